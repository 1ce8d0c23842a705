"""Bounded load test of ``analyzer serve`` on loopback: N uploads from C concurrent clients.

    python benchmarks/serve_load.py [--uploads 50] [--clients 8] [--jobs 2] [--data DIR]

Starts ``analyzer serve`` on 127.0.0.1 (a free port, a temp data folder), then C client threads
upload the bundled sample case (a zip) N times in all through ``POST /api/cases`` and, while the
queue drains, keep loading pages (``GET /cases``, ``GET /cases/{id}``, ``GET /api/cases/{id}``).
Checks: every upload got an id, every id ends ``done`` with the sample's DN, the case list holds
exactly N cases (none lost).  Prints the p50/p95/max page time and the time until all were diagnosed.
Loopback only: the server is started here and never bound elsewhere.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "nt4-kb306308"


def sample_zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(SAMPLE.iterdir()):
            if path.name != "README.md":
                zf.write(path, path.name)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(data: Path, *, jobs: int = 2, extra: tuple[str, ...] = ()) -> Iterator[str]:
    """``analyzer serve`` in a subprocess on loopback; yields its base URL and stops it afterwards."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "analyzer",
        "serve",
        "--port",
        str(port),
        "--data",
        str(data),
        "--jobs",
        str(jobs),
        *extra,
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
                raise RuntimeError(f"analyzer serve exited with {proc.returncode}: {out}")
            with contextlib.suppress(OSError), urllib.request.urlopen(base + "/api/cases", timeout=5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("analyzer serve did not answer within 120 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def upload(base: str, payload: bytes, name: str = "case.zip") -> str:
    """POST /api/cases with one file; returns the id (raises on anything but 202)."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/zip\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(
        base + "/api/cases",
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        if r.status != 202:
            raise RuntimeError(f"upload answered {r.status}")
        return str(json.loads(r.read())["id"])


def get(base: str, path: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with urllib.request.urlopen(base + path, timeout=60) as r:
        body = r.read()
    return time.perf_counter() - start, body


def load(base: str, *, uploads: int, clients: int, wait: float = 1800.0) -> dict[str, Any]:
    """Run the load; returns ids, statuses, page times and the time until every case was diagnosed."""
    payload = sample_zip_bytes()
    ids: list[str] = []
    page_times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(uploads))
    started = time.perf_counter()

    def client() -> None:
        mine: list[str] = []
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            try:
                case_id = upload(base, payload, f"case-{n}.zip")
                mine.append(case_id)
                for path in ("/cases", f"/cases/{case_id}", f"/api/cases/{case_id}"):
                    seconds, _ = get(base, path)
                    with lock:
                        page_times.append(seconds)
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
        with lock:
            ids.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    uploaded = time.perf_counter() - started
    statuses: dict[str, Any] = {}
    deadline = time.monotonic() + wait
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for case_id in list(pending):
            seconds, body = get(base, f"/api/cases/{case_id}")
            page_times.append(seconds)
            answer = json.loads(body)
            if answer["status"] in ("done", "error"):
                statuses[case_id] = answer
                pending.discard(case_id)
        if pending:
            time.sleep(0.5)
    listed = json.loads(get(base, "/api/cases")[1])["cases"]
    return {
        "ids": ids,
        "errors": errors,
        "statuses": statuses,
        "pending": sorted(pending),
        "listed": [c["id"] for c in listed],
        "page_times": page_times,
        "upload_seconds": uploaded,
        "all_seconds": time.perf_counter() - started,
    }


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uploads", type=int, default=50)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--data", help="data folder (default: a temp folder removed afterwards)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        data = Path(args.data) if args.data else Path(tmp) / "data"
        with running_server(data, jobs=args.jobs) as base:
            result = load(base, uploads=args.uploads, clients=args.clients)
    done = [s for s in result["statuses"].values() if s["status"] == "done"]
    dn_ok = sum(1 for s in done if s["dns_to_add"] and "Internet Mail Connector" in s["dns_to_add"][0])
    times = result["page_times"]
    print(f"uploads: {len(result['ids'])}/{args.uploads} accepted from {args.clients} clients, jobs={args.jobs}")
    print(f"diagnosed: {len(done)} done, {len(result['statuses']) - len(done)} error, {len(result['pending'])} pending")
    print(
        f"with the sample's DN: {dn_ok}; listed: {len(set(result['listed']) & set(result['ids']))}; client errors: {len(result['errors'])}"
    )
    print(
        f"page time over {len(times)} requests: p50 {percentile(times, 50) * 1000:.0f} ms, "
        f"p95 {percentile(times, 95) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
    )
    print(f"all uploaded in {result['upload_seconds']:.1f} s; all diagnosed after {result['all_seconds']:.1f} s")
    print(f"load average: {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "")
    ok = len(done) == args.uploads == dn_ok and not result["errors"] and not result["pending"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
