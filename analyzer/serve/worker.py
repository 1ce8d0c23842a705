"""Background work: queued cases are diagnosed in triage's worker pool, off the request path.

One thread takes the queued cases from the database in batches and hands them to
``analyzer.triage.engines.LocalPool`` (spawned processes, a time limit and an address-space cap per
case, a dead or hung worker replaced on its own).  The parent writes every derived file, so a worker
that dies leaves no half-written report: its case becomes an ``error`` with the reason.  On start,
cases a previous server was running are queued again.  What a worker runs is in ``jobs.py``: the
diagnosis of a case, or ``analyzer verify`` for the AFTER evidence of a case (a verification).
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
from analyzer.serve.jobs import diagnose_job, outcome, pool_failure, verify_job
from analyzer.serve.store import Store
from analyzer.triage.cases import CaseSpec
from analyzer.triage.engines import LocalPool

BATCH = 32  # cases per pool run: the pool starts its processes once per batch


def summarise(doc: dict[str, Any], servers: list[str] | None = None) -> dict[str, Any]:
    """The columns of the case list, from the diagnose JSON and the servers the diagnosis knows.

    ``servers`` (from ``jobs.diagnose_job``) names the server of a one-server case too; the JSON's own
    ``servers`` list (several servers only) is the fallback for answers without it."""
    findings = doc.get("findings") or []
    named = servers if servers else [str(s.get("server")) for s in doc.get("servers") or []]
    return {
        "verdict": doc.get("verdict"),
        "needs_action": doc.get("needs_action"),
        "servers": "; ".join(dict.fromkeys(named)),
        "rules": "; ".join(dict.fromkeys(str(f.get("rule")) for f in findings if f.get("rule"))),
        "dns": "; ".join(str(d) for d in doc.get("dns_to_add") or []),
    }


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
        specs = [self.spec(i, c) for i, c in by_index.items()]
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

    def spec(self, index: int, case: dict[str, Any]) -> CaseSpec:
        """The pool's order for one case: diagnose it, or verify the fix (its parent's evidence is BEFORE)."""
        options: dict[str, Any] = {}
        function = self.config.case_function or diagnose_job
        if case["kind"] == "verify" and case["parent"]:
            options = {"before": str(self.store.evidence_dir(case["parent"]))}
            function = self.config.case_function or verify_job
        return CaseSpec(
            index=index,
            name=case["id"],
            source=str(self.store.evidence_dir(case["id"])),
            json_name=f"{case['id']}.json",
            options=options,
            timeout=self.config.case_timeout,
            function=function,
        )

    def record(self, case: dict[str, Any], result: dict[str, Any]) -> None:
        """Write what the job gave (diagnosis and its files, or the verification), then mark the case."""
        if case["kind"] == "verify":
            self.record_verification(case, result)
            return
        case_id = case["id"]
        answer = result.get("doc")
        if answer is None:
            self.store.finish(case_id, error=_error_of(result))
            return
        doc = answer.get("diagnosis", answer)
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
        self.store.finish(case_id, summary=summarise(doc, answer.get("servers")))

    def record_verification(self, case: dict[str, Any], result: dict[str, Any]) -> None:
        """``verify.json`` (the command's result and exit code); exit 2 and pool failures end as errors."""
        case_id = case["id"]
        answer = result.get("doc")
        error = None if answer is not None else _error_of(result)
        if answer is None and error is not None and pool_failure(error):
            self.store.finish(case_id, error=error)  # the server's failure, not a verdict on the evidence
            return
        if answer is None:  # the AFTER evidence could not be opened or read: what the command exits 2 for
            answer = outcome(None, error=f"AFTER: {error}")
        _write(self.store.case_dir(case_id) / "verify.json", json.dumps(answer, indent=2, ensure_ascii=False))
        verified = answer.get("result") or {}
        summary = {
            "verdict": answer["verdict"],
            "needs_action": answer["exit_code"] != 0,
            "servers": "; ".join(verified.get("after", {}).get("computers") or []),
            "dns": "; ".join([*verified.get("refused_again", []), *verified.get("newly_refused", [])]),
        }
        if answer["exit_code"] == 2:
            self.store.finish(case_id, error=answer["verdict"], summary=summary)
        else:
            self.store.finish(case_id, summary=summary)


def _error_of(result: dict[str, Any]) -> str:
    errors = [e for e in [result.get("error"), *result.get("case_errors", [])] if e]
    return "; ".join(errors) or "no usable input"


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
