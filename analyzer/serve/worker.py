"""Background work: queued cases are diagnosed in triage's worker pool, off the request path.

One thread takes the queued cases from the database in batches and hands them to
``analyzer.triage.engines.LocalPool`` (spawned processes, a time limit and an address-space cap per
case, a dead or hung worker replaced on its own).  The parent writes every derived file, so a worker
that dies leaves no half-written report: its case becomes an ``error`` with the reason.  On start,
cases a previous server was running are queued again.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from analyzer.remedy import write_reg_file
from analyzer.report.diagnosis import render
from analyzer.serve.config import ServeConfig
from analyzer.serve.store import Store
from analyzer.triage.cases import CaseSpec
from analyzer.triage.engines import LocalPool

BATCH = 32  # cases per pool run: the pool starts its processes once per batch


def summarise(doc: dict[str, Any]) -> dict[str, Any]:
    """The columns of the case list, from the diagnose JSON."""
    findings = doc.get("findings") or []
    return {
        "verdict": doc.get("verdict"),
        "needs_action": doc.get("needs_action"),
        "servers": "; ".join(str(s.get("server")) for s in doc.get("servers") or []),
        "rules": "; ".join(dict.fromkeys(str(f.get("rule")) for f in findings if f.get("rule"))),
        "dns": "; ".join(str(d) for d in doc.get("dns_to_add") or []),
    }


def compare(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """The AFTER evidence against the case's diagnosis: which refused DNs are still refused, which are new.

    This compares two diagnoses; it is not a proof that the store re-read the list after the change.
    """
    before_dns = list((before or {}).get("dns_to_add") or [])
    after_dns = list(after.get("dns_to_add") or [])
    still = [d for d in before_dns if d in after_dns]
    new = [d for d in after_dns if d not in before_dns]
    if still:
        status, text = "still_refused", "still refused after the fix: " + "; ".join(still)
    elif new:
        status, text = "new_refusals", "refused now but not before: " + "; ".join(new)
    else:
        status, text = "no_refusals", "no DN of the case is refused in the AFTER evidence"
    return {"status": status, "text": text, "still_refused": still, "new_refusals": new, "before": before_dns}


class Worker:
    """The thread that drains the queue; ``wake()`` after an upload, ``stop()`` on shutdown."""

    def __init__(self, store: Store, config: ServeConfig) -> None:
        self.store = store
        self.config = config
        self.event = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, name="analyzer-serve-worker", daemon=True)

    def start(self) -> None:
        self.store.requeue_running()
        self.thread.start()

    def wake(self) -> None:
        self.event.set()

    def stop(self) -> None:
        self.stopping = True
        self.event.set()
        self.thread.join(timeout=30)

    def _loop(self) -> None:
        while not self.stopping:
            batch = self.store.claim(BATCH)
            if not batch:
                self.event.wait(self.config.poll_seconds)
                self.event.clear()
                continue
            self.run_batch(batch)

    def run_batch(self, batch: list[dict[str, Any]]) -> None:
        """Diagnose claimed cases; each result is written as it comes, so a crash loses nothing finished."""
        by_index = dict(enumerate(batch))
        specs = [
            CaseSpec(
                index=i,
                name=c["id"],
                source=str(self.store.evidence_dir(c["id"])),
                json_name=f"{c['id']}.json",
                timeout=self.config.case_timeout,
                function=self.config.case_function,
            )
            for i, c in by_index.items()
        ]
        pool = LocalPool(self.config.jobs, memory_limit=self.config.memory_limit, kill_grace=self.config.kill_grace)
        try:
            for result in pool.run(specs):
                case = by_index[result["index"]]
                try:
                    self.record(case, result)
                except Exception as exc:  # a disk problem must not stop the queue
                    self.store.finish(case["id"], error=f"internal error: cannot write the report: {exc}")
        except Exception as exc:  # the pool itself failed: its unfinished cases become errors with the reason
            for case in batch:
                current = self.store.get(case["id"])
                if current is not None and current["status"] == "running":
                    self.store.finish(case["id"], error=f"internal error: the worker pool failed: {exc}")

    def record(self, case: dict[str, Any], result: dict[str, Any]) -> None:
        """Write diagnosis.json, report.html and the .reg patches, then mark the case done or error."""
        case_id = case["id"]
        doc = result.get("doc")
        if doc is None:
            errors = [e for e in [result.get("error"), *result.get("case_errors", [])] if e]
            self.store.finish(case_id, error="; ".join(errors) or "no usable input")
            return
        doc["case"] = f"case {case_id}"  # the server's folder names are nobody's business
        folder = self.store.case_dir(case_id)
        patch: str | dict[str, str] | None = None
        remediation = doc.get("remediation")
        if remediation:
            write_reg_file(folder / "patch.reg", remediation["reg"], int(remediation["version"]))
            write_reg_file(folder / "rollback.reg", remediation["rollback"], int(remediation["version"]))
            patch = "patch.reg"
        per_server: dict[str, str] = {}
        for n, server in enumerate(doc.get("servers") or [], start=1):
            fix = server.get("remediation")
            if fix:  # several servers: one patch per server, never one across them (names by number, not server)
                write_reg_file(folder / f"patch-{n}.reg", fix["reg"], int(fix["version"]))
                write_reg_file(folder / f"rollback-{n}.reg", fix["rollback"], int(fix["version"]))
                per_server[str(server.get("server"))] = f"patch-{n}.reg"
        patch = per_server or patch
        _write(folder / "diagnosis.json", json.dumps(doc, indent=2, ensure_ascii=False))
        _write(folder / "report.html", render(doc, "html", patch_path=patch))
        summary = summarise(doc)
        if case["kind"] == "verify" and case["parent"]:
            before_path = self.store.case_dir(case["parent"]) / "diagnosis.json"
            before = json.loads(before_path.read_text("utf-8")) if before_path.exists() else None
            comparison = compare(before, doc)
            _write(folder / "comparison.json", json.dumps(comparison, indent=2, ensure_ascii=False))
            summary["verdict"] = comparison["text"]
        self.store.finish(case_id, summary=summary)


def _write(path: Path, text: str) -> None:
    """Atomic write: a reader never sees half a report."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
