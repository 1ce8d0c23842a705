"""Worker side of triage: find the cases under the roots, run one case under its limits, make its row.

* ``discover`` lists one case per immediate sub-folder or archive (any kind, by content) of each root, in sorted order.
* ``CaseSpec`` is the small picklable order a worker gets; ``run_case`` / ``run_cases`` (module-level, so
  both a spawned local worker and a Dask worker can import them by name) open and diagnose the case under
  its time limit (``budget.time_limit``) and never raise: anything that goes wrong comes back as a one-line ``error``.
* ``summary_row`` turns the diagnose JSON plus what the worker saw into one summary row (run in the parent).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from analyzer.archives import is_archive
from analyzer.case import CaseLimits, case_name, open_case
from analyzer.diagnosis import diagnose_case
from analyzer.model import InputError, exception_line
from analyzer.triage.budget import CaseClock, CaseTimeout, peak_rss, time_limit
from analyzer.triage.output import case_json_text

if TYPE_CHECKING:
    from analyzer.case import Case

DEFAULT_CASE_TIMEOUT = 600.0
CaseFunction = Callable[..., dict[str, Any]]


class TriageError(Exception):
    """A usage problem of the whole run (ROOT missing, no cases): exit code 2."""


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class CaseSpec:
    """What a worker needs to run one case (picklable, small)."""

    index: int
    name: str
    source: str
    json_name: str
    options: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = DEFAULT_CASE_TIMEOUT
    expect: tuple[tuple[str, str], ...] | None = None  # resume: (path, sha256) of the inputs last time
    limits: CaseLimits | None = None
    function: CaseFunction | None = None
    clock: CaseClock | None = None  # None: the wall clock (and SIGALRM where the platform has it)


def discover(
    roots: Iterable[str | os.PathLike[str]], exclude: str | os.PathLike[str] | None = None
) -> tuple[list[tuple[str, str]], list[str]]:
    """(case name, path) for every immediate sub-folder or zip of each root, and notes on what was skipped.

    Hidden entries (``.name``), symbolic links and the output folder ``exclude`` are not cases.  Raises TriageError
    when a root does not exist or is not a folder.
    """
    cases: list[tuple[str, str]] = []
    notes: list[str] = []
    for root in roots:
        root = os.fspath(root)
        if not os.path.exists(root):
            raise TriageError(f"{root}: no such folder")
        if not os.path.isdir(root):
            raise TriageError(f"{root}: not a folder (give the folder that holds one sub-folder or archive per case)")
        for entry in sorted(os.listdir(root)):
            path = os.path.join(root, entry)
            if entry.startswith(".") or entry == "__pycache__":  # hidden entries and Python caches are no cases
                continue
            if os.path.islink(path):  # as inside a case: a link could pull in anything on the machine
                notes.append(f"{path}: symbolic link, not followed (a case must be a real folder or zip under ROOT)")
                continue
            if exclude is not None and os.path.exists(exclude) and os.path.samefile(path, exclude):
                notes.append(f"{path}: the output folder; skipped")
                continue
            if os.path.isdir(path) or (os.path.isfile(path) and is_archive(path)):
                cases.append((case_name(path), path))
            else:
                notes.append(f"{path}: not a folder or archive; skipped")
    return cases, notes


# --------------------------------------------------------------------------- the per-case function


def run_case(spec: CaseSpec) -> dict[str, Any]:
    """Open and diagnose one case under its time limit; never raises (except interpreter shutdown).

    Returns ``{"index", "doc", "resumed", "error", "case_errors", "case_warnings", "inputs", "seconds"}``;
    ``doc`` is the diagnose JSON dict (None when resumed or failed).
    """
    started = time.perf_counter()
    result: dict[str, Any] = {
        "index": spec.index,
        "doc": None,
        "resumed": False,
        "error": None,
        "case_errors": [],
        "case_warnings": [],
        "inputs": 0,
    }
    try:
        now = None if spec.clock is None else functools.partial(spec.clock.now, spec.index)
        with time_limit(spec.timeout, now), open_case(spec.source, limits=spec.limits) as case:
            result["case_errors"] = list(case.errors)
            result["case_warnings"] = list(case.warnings)
            result["inputs"] = len(case.inputs)
            # the digests are compared only to resume: otherwise the big files' hashes finish while they are read
            if spec.expect is not None and tuple((i.path, i.sha256) for i in case.inputs) == spec.expect:
                result["resumed"] = True
            elif not case.usable:
                result["error"] = _no_usable_input(case)
            else:
                function = spec.function or _diagnose_case
                result["doc"] = function(case, **spec.options)
    except CaseTimeout:
        result["error"] = f"timed out after {spec.timeout:g} s"
    except MemoryError:
        result["error"] = "out of memory (worker memory limit reached)"
    except InputError as exc:
        result["error"] = str(exc)
    except RecursionError:
        result["error"] = "internal error: recursion too deep"
    except Exception as exc:
        result["error"] = f"internal error: {type(exc).__name__}: {exception_line(exc)}"
    if result["doc"] is not None:
        try:  # the file's text is made here, in the worker, so that it scales with the workers
            result["json"] = case_json_text(result["doc"])
        except Exception:  # the parent makes it then, and reports what goes wrong
            result["json"] = None
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["pid"] = os.getpid()
    result["peak_rss"] = peak_rss()
    return result


def run_cases(specs: Sequence[CaseSpec]) -> list[dict[str, Any]]:
    """``run_case`` for a batch (one Dask task); each case keeps its own time limit."""
    return [run_case(spec) for spec in specs]


def _diagnose_case(case: Case, **options: Any) -> dict[str, Any]:
    return diagnose_case(case, **options).to_dict()


def _no_usable_input(case: Case) -> str:
    if not case.inputs:
        return "no usable input: the case holds no files"
    reasons = [f"{i.path}: {i.error or i.note}" for i in case.inputs[:3]]
    more = f" (+{len(case.inputs) - 3} more)" if len(case.inputs) > 3 else ""
    return "no usable input: " + "; ".join(reasons) + more


# --------------------------------------------------------------------------- rows


def _nothing_read(inputs: list[dict[str, Any]]) -> str | None:
    """ "no usable input: ..." when the case had evidence files and every one failed while being read
    (diagnose exits 2 for such a case; triage must not count it as clean)."""
    evidence = [i for i in inputs if i.get("format")]
    if not evidence or any(not i.get("error") for i in evidence):
        return None
    reasons = [f"{i.get('path')}: {i.get('error')}" for i in evidence[:3]]
    more = f" (+{len(evidence) - 3} more)" if len(evidence) > 3 else ""
    return "no usable input: " + "; ".join(reasons) + more


def summary_row(name: str, json_name: str, doc: dict[str, Any] | None, result: dict[str, Any]) -> dict[str, Any]:
    """One summary row from the diagnose JSON (``doc``) and what the worker saw of the case."""
    case_errors = [e for e in result.get("case_errors", []) if e]
    error = result.get("error")
    if error and case_errors and str(error).startswith("no usable input"):
        error = None  # the archive problem already says why nothing was usable
    errors = [e for e in [error, *case_errors] if e]
    row: dict[str, Any] = {
        "case": name,
        "status": "error",
        "rules": "",
        "dns_to_add": "",
        "logon_only_as": "",
        "inputs": int(result.get("inputs", 0)),
        "warnings": len(result.get("case_warnings", [])),
        "seconds": float(result.get("seconds", 0.0)),
        "error": "; ".join(errors),
        "json": "",
    }
    if doc is not None:
        findings = doc.get("findings") or []
        rules = list(dict.fromkeys(str(f.get("rule")) for f in findings if f.get("rule")))
        needs = doc.get("needs_action")
        if needs is None:
            needs = bool(doc.get("dns_to_add")) or any(f.get("severity") == "error" for f in findings)
        inputs = doc.get("inputs") or []
        unread = _nothing_read(inputs)
        if unread and not errors:
            errors = [unread]  # every evidence file failed while being read: nothing was diagnosed
        top = doc.get("warnings")
        n_warn = len(top) if top is not None else len(result.get("case_warnings", []))
        row.update(
            rules="; ".join(rules),
            dns_to_add="; ".join(str(d) for d in doc.get("dns_to_add") or []),
            logon_only_as=str((doc.get("logon_only_as") or {}).get("state") or ""),
            inputs=len(inputs),
            warnings=n_warn + sum(len(i.get("warnings") or []) for i in inputs),
            status="error" if errors else ("findings" if needs else "clean"),
            error="; ".join(errors),
            json=f"cases/{json_name}",
        )
    return row
