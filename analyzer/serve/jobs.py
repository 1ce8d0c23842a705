"""What a worker process runs for the server: a case's diagnosis, or the verification of a fix.

Both are module-level functions of the shape triage's worker pool calls (``f(case, **options)`` on the
opened case, under the case's time limit and memory cap), so they run in a spawned process, never in a
request.  Their answers are small dicts the parent (``worker.py``) turns into files and database rows:

* ``diagnose_job`` -> ``{"diagnosis": <diagnose JSON>, "servers": [...]}``.  ``servers`` is every server
  the diagnosis knows from the content (computer names of the events, a hive's ComputerName, MPS Reports
  prefixes), also for a case of one server, for which the diagnose JSON has no ``servers`` list.
* ``verify_job`` -> the outcome of ``analyzer verify BEFORE AFTER`` (the same code as the command), with
  the command's exit code: the case's stored evidence is BEFORE, the uploaded evidence is AFTER.
"""

from __future__ import annotations

from typing import Any

from analyzer.case import Case
from analyzer.diagnosis import diagnose_case
from analyzer.model import InputError
from analyzer.verify import exit_code, read_side, side_of, verify_sides

#: What ``analyzer verify``'s exit codes mean (its documented contract), shown beside each result.
EXIT_MEANING = {
    0: "fixed",
    1: "not shown to be fixed (not yet effective, not fixed, a new problem or inconclusive)",
    2: "cannot be compared (no usable input, AFTER older than BEFORE, or another server)",
}

#: How the worker pool words a failure of its own (not of the evidence): no exit code of the command.
POOL_FAILURES = ("timed out", "worker process died", "out of memory", "internal error")


def diagnose_job(case: Case, **options: Any) -> dict[str, Any]:
    """The diagnose JSON of the case, plus the names of its servers."""
    dx = diagnose_case(case, **options)
    return {"diagnosis": dx.to_dict(), "servers": list(dx.server_names)}


def verify_job(case: Case, *, before: str) -> dict[str, Any]:
    """``analyzer verify`` with ``before`` (the case's evidence folder) as BEFORE and ``case`` as AFTER.

    The answer is ``outcome(...)``: exit code 2 (with the command's one-line reason) when the two
    sides cannot be compared, else the ``analyzer.verify/1`` result with exit code 0 or 1."""
    try:
        result = verify_sides(read_side(before, "BEFORE"), side_of(case, "AFTER"))
    except InputError as exc:  # VerifyError among them: what the command reports with exit code 2
        return outcome(None, error=_without_server_paths(str(exc), before, str(case.root)))
    return outcome(result, code=exit_code(result))


def outcome(result: dict[str, Any] | None, *, code: int = 2, error: str | None = None) -> dict[str, Any]:
    """One verification as the page and the API show it (``verify.json`` of the verification)."""
    return {
        "exit_code": code,
        "meaning": EXIT_MEANING[code],
        "status": result["status"] if result else None,
        "verdict": result["verdict"] if result else f"Cannot be compared: {error}",
        "error": error,
        "result": result,
    }


def pool_failure(error: str) -> bool:
    """True when the worker pool (not the evidence) ended the job: a time-out, a crash, the memory cap."""
    return error.startswith(POOL_FAILURES)


def _without_server_paths(text: str, before: str, after: str) -> str:
    """Messages name the sides, never the server's folders."""
    for path, label in ((before, "BEFORE"), (after, "AFTER")):
        if path:
            text = text.replace(path, label)
    return text
