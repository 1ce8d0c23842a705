"""Read speed and peak memory of the event-log readers, each measured in its own process.

    python benchmarks/read_speed.py [--records N] [--tmp DIR]

Builds, with the project's test writers, an N-record .evt and an N-record .evtx (plus a 5,000-record
.evtx slice for the slow pure-Python parsers) from the same synthetic Application-log stream
(every 50th event an MSExchangeIS Private 1023), then prints records/s and peak RSS for:

* .evt: our reader vs libevt-python (pyevt), every field of every record touched in both;
* .evtx: our reader on each backend vs raw ``evtx.PyEvtxParser`` iteration vs python-evtx;
* filtered reads (event ID 1023) vs unfiltered, for both formats;
* the big-.evtx rows: ``analyzer.diagnose`` of the .evtx as a one-file case vs the Rust parser's raw
  ``records_json()`` iteration of the same file (ratio printed below the table; target >= 1.0), in a
  fresh process and in a warm one (a small case diagnosed first: imports and rules already loaded).

Every measurement runs in a fresh child process and its peak RSS comes from ``os.wait4`` (that
child's own rusage), so figures never mix; the first row is the cost of the interpreter and imports.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

if TYPE_CHECKING:
    from analyzer.model import Event

SLICE = 5000  # records in the .evtx slice given to the pure-Python parsers
FILTER_IDS = (1023,)


# --------------------------------------------------------------------------- what a child runs


def _pyevt_value(record: object, name: str, default: object) -> object:
    try:
        return getattr(record, name)
    except OSError:  # libevt raises when a record has no data / SID
        return default


# Each job imports what it needs, then returns the timed part: a callable giving the events out.
Job = Callable[[str], Callable[[], int]]


def evt_ours(filtered: bool) -> Job:
    def prepare(path: str) -> Callable[[], int]:
        from analyzer.model import EventFilter
        from analyzer.readers import evt

        flt = EventFilter.build(ids=FILTER_IDS) if filtered else None
        return lambda: sum(1 for _ in evt.read(path, filters=flt))

    return prepare


def evt_pyevt(filtered: bool) -> Job:
    def prepare(path: str) -> Callable[[], int]:
        import pyevt

        def run() -> int:
            f = pyevt.file()
            f.open(path)
            count = 0
            for i in range(f.number_of_records):
                r = f.get_record(i)
                if filtered and r.event_identifier & 0xFFFF not in FILTER_IDS:
                    continue
                # Touch what our reader puts into an Event, so both do the same work.
                (r.identifier, r.offset, r.creation_time, r.written_time, r.event_identifier, r.event_type,
                 r.event_category, r.source_name, r.computer_name, _pyevt_value(r, "user_security_identifier", None),
                 tuple(r.strings), _pyevt_value(r, "data", b""))  # fmt: skip
                count += 1
            f.close()
            return count

        return run

    return prepare


def evtx_ours(filtered: bool, backend: str) -> Job:
    def prepare(path: str) -> Callable[[], int]:
        from analyzer.model import EventFilter
        from analyzer.readers import evtx

        flt = EventFilter.build(ids=FILTER_IDS) if filtered else None
        return lambda: sum(1 for _ in evtx.read(path, filters=flt, backend=backend))

    return prepare


def evtx_rust_raw(path: str) -> Callable[[], int]:
    import evtx

    return lambda: sum(1 for _ in evtx.PyEvtxParser(path).records())


def evtx_rust_json(path: str) -> Callable[[], int]:
    """What the issue compares diagnose with: the Rust parser rendering every record to JSON."""
    import evtx

    return lambda: sum(1 for _ in evtx.PyEvtxParser(path).records_json())


def evtx_diagnose(path: str) -> Callable[[], int]:
    """The whole diagnosis of a one-file case (reading, evidence, rules, the JSON document)."""
    import analyzer

    def run() -> int:
        doc = analyzer.diagnose(path).to_dict()
        return sum(int(i["records"]) for i in doc["inputs"])  # events the rules read

    return run


def evtx_diagnose_warm(path: str) -> Callable[[], int]:
    """The same diagnosis in a process that has diagnosed a small case before (a notebook, a triage
    worker): modules imported and rules loaded, so the figure is the cost of the big file itself."""
    import tempfile
    from datetime import UTC, datetime

    import analyzer
    from analyzer.model import Event, EventType
    from tests.writers.evtx_writer import write_evtx

    when = datetime(2001, 3, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.evtx"
        write_evtx(
            small, [Event("", 1, None, when, when, 1005, 1005, EventType.INFORMATION, 0, "Winlogon", "X", None, ())]
        )
        analyzer.diagnose(str(small)).to_dict()
    return evtx_diagnose(path)


def python_evtx(path: str) -> Callable[[], int]:
    from Evtx.Evtx import Evtx

    def run() -> int:
        count = 0
        with Evtx(path) as log:
            for record in log.records():
                record.xml()
                count += 1
        return count

    return run


def baseline(path: str) -> Callable[[], int]:
    """Interpreter plus the imports the other rows pay for."""
    import evtx  # noqa: F401
    import pyevt  # noqa: F401
    from Evtx import Evtx  # noqa: F401

    from analyzer.model import EventFilter  # noqa: F401
    from analyzer.readers import evt  # noqa: F401

    return lambda: 0


CHILD_JOBS: dict[str, Job] = {
    "baseline": baseline,
    "evt-ours": evt_ours(False),
    "evt-ours-1023": evt_ours(True),
    "evt-pyevt": evt_pyevt(False),
    "evt-pyevt-1023": evt_pyevt(True),
    "evtx-ours-rust": evtx_ours(False, "rust"),
    "evtx-ours-rust-1023": evtx_ours(True, "rust"),
    "evtx-ours-python": evtx_ours(False, "python"),
    "evtx-ours-python-1023": evtx_ours(True, "python"),
    "evtx-rust-raw": evtx_rust_raw,
    "evtx-rust-json": evtx_rust_json,
    "evtx-diagnose": evtx_diagnose,
    "evtx-diagnose-warm": evtx_diagnose_warm,
    "python-evtx": python_evtx,
}


def child(job: str, path: str) -> None:
    run = CHILD_JOBS[job](path)
    started, cpu = time.perf_counter(), time.process_time()
    count = run()
    print(json.dumps({"count": count, "seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}))


# --------------------------------------------------------------------------- the parent


def measure(job: str, path: Path) -> dict[str, float]:
    """Run one job in a fresh interpreter; its own peak RSS comes from wait4()."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen([sys.executable, __file__, "--child", job, str(path)], stdout=out, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise SystemExit(f"read_speed: {job} on {path.name} failed (exit {proc.returncode})")
    result = json.loads(text.strip().splitlines()[-1])
    result["rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def application_events(count: int) -> Iterator[Event]:
    """An Application log as a busy Exchange 5.5 server writes it: mostly events no rule reads
    (MSExchangeIS 1016 mailbox logons, Winlogon 1005, ESE 700-series), every 200th an MSExchangeIS
    Private 1023 for the Internet Mail Connector, every 997th an MSExchangeIMC 4018."""
    from datetime import UTC, datetime, timedelta

    from analyzer.model import Event, EventType
    from tests.writers.evt_writer import IMC_DN

    t0 = datetime(2001, 3, 1, tzinfo=UTC)
    chatter = [
        (
            1016,
            "MSExchangeIS Private",
            EventType.SUCCESS_AUDIT,
            ("ORG\\user{n}", "User {n}", "/o=Org/ou=Site/cn=Recipients/cn=u{n}"),
        ),
        (1005, "Winlogon", EventType.INFORMATION, ("{n}",)),
        (
            1016,
            "MSExchangeIS Private",
            EventType.SUCCESS_AUDIT,
            ("ORG\\admin", "Admin {n}", "/o=Org/ou=Site/cn=Recipients/cn=a"),
        ),
        (701, "ESE97", EventType.INFORMATION, ("MSExchangeIS", "{n}")),
    ]
    for i in range(count):
        when = t0 + timedelta(seconds=i * 3)
        if i % 200 == 0:
            event_id, source, etype, strings = (
                1023,
                "MSExchangeIS Private",
                EventType.FAILURE_AUDIT,
                ("ORG\\exchsvc", IMC_DN, IMC_DN),
            )
        elif i % 997 == 0:
            event_id, source, etype, strings = 4018, "MSExchangeIMC", EventType.ERROR, ("0x80040111",)
        else:
            event_id, source, etype, texts = chatter[i % len(chatter)]
            strings = tuple(t.format(n=i % 5000) for t in texts)
        yield Event("", i + 1, None, when, when, event_id, event_id, etype, 0, source, "EXCH01", None, strings)


def build_files(records: int, tmp: Path) -> dict[str, Path | None]:
    """Write the input files (in the calling process: run it as a child so the parent stays small)."""
    from tests.writers.evt_writer import sample_events, write_evt

    files: dict[str, Path | None] = {"evt": tmp / f"bench-{records}.evt"}
    started = time.perf_counter()
    write_evt(files["evt"], sample_events(records))  # type: ignore[arg-type]
    print(f"wrote {files['evt']} ({records} records) in {time.perf_counter() - started:.1f} s", flush=True)
    try:
        import analyzer.readers.evtx  # noqa: F401
        from tests.writers.evtx_writer import write_evtx
    except ImportError as exc:
        print(f"note: .evtx part skipped ({exc}); the evtx writer or reader is not available", flush=True)
        files["evtx"] = files["evtx-slice"] = files["evtx-app"] = None
        return files
    files["evtx"] = tmp / f"bench-{records}.evtx"
    files["evtx-app"] = tmp / f"bench-{records}-application.evtx"
    write_evtx(files["evtx-app"], application_events(records))
    files["evtx-slice"] = tmp / f"bench-{min(records, SLICE)}-slice.evtx"
    started = time.perf_counter()
    write_evtx(files["evtx"], sample_events(records))
    write_evtx(files["evtx-slice"], islice(sample_events(records), SLICE))
    print(f"wrote {files['evtx']} ({records} records) in {time.perf_counter() - started:.1f} s", flush=True)
    return files


def build_in_child(records: int, tmp: Path) -> dict[str, Path | None]:
    """Build the files in a child process: a child's peak RSS (wait4) starts from its parent's RSS at
    fork time, so the parent must not have grown by generating 300,000 records itself."""
    out = subprocess.run(
        [sys.executable, __file__, "--build", str(records), str(tmp)], cwd=REPO, check=True,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines = out.stdout.strip().splitlines()
    print("\n".join(lines[:-1]), flush=True)
    return {k: (Path(v) if v else None) for k, v in json.loads(lines[-1]).items()}


PLAN = [
    # (label, job, file key, note)
    ("python + every import below", "baseline", "evt", "RSS floor"),
    (".evt  analyzer (ours)", "evt-ours", "evt", ""),
    (".evt  libevt-python (pyevt)", "evt-pyevt", "evt", "all fields touched"),
    (".evt  analyzer, ids {1023}", "evt-ours-1023", "evt", "filter pushed down"),
    (".evt  pyevt, ids {1023}", "evt-pyevt-1023", "evt", "filter after get_record"),
    (".evtx analyzer backend=rust", "evtx-ours-rust", "evtx", ""),
    (".evtx analyzer backend=rust, ids {1023}", "evtx-ours-rust-1023", "evtx", "filter pushed down"),
    (".evtx evtx.PyEvtxParser raw", "evtx-rust-raw", "evtx", "XML strings, no model"),
    (".evtx evtx records_json() raw", "evtx-rust-json", "evtx-app", "Application log; JSON strings, no model"),
    (".evtx analyzer diagnose (whole case)", "evtx-diagnose", "evtx-app", "Application log; events the rules read"),
    (".evtx analyzer diagnose, warm process", "evtx-diagnose-warm", "evtx-app", "imports and rules loaded before"),
    (".evtx analyzer backend=python", "evtx-ours-python", "evtx-slice", "slice"),
    (".evtx analyzer backend=python, ids {1023}", "evtx-ours-python-1023", "evtx-slice", "slice"),
    (".evtx python-evtx (record.xml())", "python-evtx", "evtx-slice", "slice"),
]


def records_in(key: str, records: int) -> int:
    return min(records, SLICE) if key == "evtx-slice" else records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=300_000, help="records per file (default 300000)")
    parser.add_argument("--tmp", type=Path, help="folder for the generated files (default: a temporary one)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per fast row, best time kept (default 3)")
    parser.add_argument("--child", nargs=2, metavar=("JOB", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--build", nargs=2, metavar=("N", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if args.build:
        built = build_files(int(args.build[0]), Path(args.build[1]))
        print(json.dumps({k: str(v) if v else None for k, v in built.items()}))
        return 0
    from tabulate import tabulate

    if args.tmp:  # a folder that does not exist yet is made, as scaling.py does
        os.makedirs(args.tmp, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmpdir:
        files = build_in_child(args.records, Path(tmpdir))
        plan = [row for row in PLAN if files.get(row[2]) is not None]
        best: dict[str, dict[str, float]] = {}
        # Rounds over the whole plan, so that load from other users of the machine spreads over all
        # rows alike; the least disturbed run (least CPU time) of each row is kept, peak RSS is the max.
        for round_no in range(args.repeat):
            for label, job, key, _ in plan:
                if round_no and best[job]["seconds"] > 10:
                    continue  # the slow pure-Python rows: one run says enough
                r = measure(job, files[key])  # type: ignore[arg-type]
                print(f"  round {round_no + 1}: {label}: {r['seconds']:.2f} s", file=sys.stderr, flush=True)
                old = best.get(job)
                if old is not None:
                    r = {**(r if r["cpu"] < old["cpu"] else old), "rss_mb": max(r["rss_mb"], old["rss_mb"])}
                best[job] = r
        rows: list[list[str]] = []
        short: list[str] = []
        for label, job, key, note in plan:
            r = best[job]
            scanned = records_in(key, args.records)
            if key == "evtx-slice":
                note = f"pure Python: {scanned:,}-record slice only"
            timed = job != "baseline" and r["cpu"] > 0
            rows.append(
                [label, f"{files[key].suffix} {scanned:,}", f"{int(r['count']):,}",  # type: ignore[union-attr]
                 f"{r['seconds']:.2f}", f"{r['cpu']:.2f}", f"{scanned / r['cpu']:,.0f}" if timed else "-",
                 f"{scanned / r['seconds']:,.0f}" if timed else "-", f"{r['rss_mb']:.0f}", note]
            )  # fmt: skip
            if not job.endswith(("1023", "diagnose", "warm")) and job != "baseline" and r["count"] != scanned:
                short.append(f"{label}: {int(r['count']):,} events out of {scanned:,} written")
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in files.values() if p is not None)
    print()
    from analyzer.readers import chunkscan, crc

    scan = "native C module" if chunkscan.NATIVE else "pure Python (the C module is not built)"
    check = "folded (C module)" if crc.ACCELERATED else "zlib"
    print(
        f"records per file: {args.records:,}; files: {sizes}; python {sys.version.split()[0]}; "
        f".evtx chunk scan: {scan}; chunk CRC-32: {check}"
    )
    print(
        "records/s = records scanned / seconds of the read in the child (filtered rows scan the whole file);"
        f" best of {args.repeat} interleaved runs (rows over 10 s: one run); CPU time is the fairer figure"
        " on a shared machine"
    )
    print(
        tabulate(
            rows,
            headers=[
                "reader",
                "file",
                "events out",
                "wall s",
                "CPU s",
                "rec/s (CPU)",
                "rec/s (wall)",
                "peak RSS MB",
                "note",
            ],
            disable_numparse=True,
        )
    )
    for job, what in (("evtx-diagnose", "diagnose"), ("evtx-diagnose-warm", "diagnose in a warm process")):
        if job in best and "evtx-rust-json" in best:
            raw, diag = best["evtx-rust-json"], best[job]
            print(
                f"big .evtx: {what} vs raw records_json() iteration of the same file: "
                f"{raw['seconds'] / diag['seconds']:.2f}x by wall time, {raw['cpu'] / diag['cpu']:.2f}x by CPU time "
                "(>= 1.0: diagnosing is faster than merely iterating; target >= 1.0)"
            )
    for line in short:
        print(f"WARNING: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
