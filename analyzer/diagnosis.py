"""Diagnose one case: read every input, extract the evidence, run the rules, build verdict and fix.

Why the split: ``diagnose_facts`` is pure (events + registry readings -> Diagnosis) so tests and
notebooks can diagnose in-memory objects; ``diagnose_case`` adds file reading (streamed, with the
event-ID pushdown of ``evidence.EVIDENCE_FILTER``) and per-file error handling; ``diagnose`` opens a
case from paths (folders, .zip, files) with ``case.open_case``.

Several logs are all read.  Several registry exports are all read; the one used is the one whose
key was written last, then a binary hive over text (``evidence.choose_logon_only_as``), and the
verdict says which and why when they disagree.  A broken file among good ones is a warning; a case
without any usable input is reported per file (CLI exit 2).

``--reg-patch FILE`` writes the patch to FILE and the rollback beside it as ``<stem>-rollback.reg``
(``remedy.rollback_path``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from analyzer.dn import classify
from analyzer.evidence import (
    EVIDENCE_FILTER,
    PARAMETERS_SYSTEM,
    CaseFacts,
    Evidence,
    LogonOnlyAs,
    RegistryFacts,
    choose_logon_only_as,
    read_logon_only_as,
)
from analyzer.limits import DEFAULT_LIMITS, ReadLimits
from analyzer.lockout import working_components
from analyzer.model import Event, EvidenceRef, Finding, InputError, ReadWarning, Severity
from analyzer.readers.text import ReadNote
from analyzer.sniff import EVENT_FORMATS, REGISTRY_FORMATS

if TYPE_CHECKING:
    import pandas as pd

    from analyzer.case import Case, CaseLimits
    from analyzer.remedy import Remediation

SCHEMA = "analyzer.diagnosis/1"
__all__ = ["Diagnosis", "LogonOnlyAs", "diagnose", "diagnose_case", "diagnose_facts"]

FINDING_COLUMNS = [
    "rule", "severity", "title", "component", "dn", "account", "count", "first_seen", "last_seen",
    "add_dn", "replaces", "references", "explanation",
]  # fmt: skip


@dataclass
class Diagnosis:
    """The result for one case (contract in notes/diagnosis_contract.md; JSON via ``to_dict``)."""

    case: str
    inputs: list[Any]  # case.CaseInput
    logon_only_as: LogonOnlyAs
    finding_list: list[Finding]
    dns_to_add: list[str]
    remediation: Remediation | None
    verdict: str
    warnings: list[str]
    needs_action: bool
    usable: bool = True  # at least one input could be read (CLI: exit 2 otherwise)
    errors: list[str] = field(default_factory=list)  # one line per unusable file ("path: why")

    @property
    def findings(self) -> pd.DataFrame:
        """One row per finding (columns ``FINDING_COLUMNS``)."""
        import pandas as pd

        rows = [
            (f.rule, f.severity.value, f.title, f.component, f.dn, f.account, f.count, f.first_seen, f.last_seen,
             f.add_dn, f.replaces, list(f.references), f.explanation)
            for f in self.finding_list
        ]  # fmt: skip
        return pd.DataFrame.from_records(rows, columns=FINDING_COLUMNS)

    @property
    def rules_fired(self) -> list[str]:
        return list(dict.fromkeys(f.rule for f in self.finding_list))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "case": self.case,
            "verdict": self.verdict,
            "needs_action": self.needs_action,
            "inputs": [_input_dict(i) for i in self.inputs],
            "logon_only_as": self.logon_only_as.to_dict(),
            "findings": [f.to_dict() for f in self.finding_list],
            "dns_to_add": list(self.dns_to_add),
            "remediation": self.remediation.to_dict() if self.remediation is not None else None,
            "warnings": list(self.warnings),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    def to_markdown(self) -> str:
        from analyzer.report.diagnosis import render_markdown

        return render_markdown(self.to_dict())

    def to_text(self) -> str:
        from analyzer.report.diagnosis import render_text

        return render_text(self.to_dict())

    def _repr_html_(self) -> str:
        from analyzer.report.diagnosis import render_html

        return render_html(self.to_dict(), fragment=True)

    def __repr__(self) -> str:
        return (
            f"Diagnosis(case={self.case!r}, state={self.logon_only_as.state!r}, dns_to_add={self.dns_to_add!r}, "
            f"rules={self.rules_fired!r}, needs_action={self.needs_action})"
        )


def _input_dict(i: Any) -> dict[str, Any]:
    return {
        "path": i.path,
        "format": i.format,
        "sha256": i.sha256,
        "size": i.size,
        "records": i.records,
        "warnings": list(i.warnings),
        "error": i.error,
        "note": getattr(i, "note", None),
    }


# --------------------------------------------------------------------------- pure core


def diagnose_facts(
    facts: CaseFacts,
    *,
    case: str = "case",
    inputs: Sequence[Any] = (),
    warnings: Sequence[str] = (),
    reg_version: int | None = None,
    usable: bool = True,
    errors: Sequence[str] = (),
    replace_near_misses: bool = False,
) -> Diagnosis:
    """Run the rules on the facts and assemble the Diagnosis (no file access).

    ``replace_near_misses``: the patch replaces a probably mistyped entry instead of keeping it."""
    from analyzer.rules import run_rules

    rule_errors: list[str] = []
    findings = run_rules(facts, errors=rule_errors)
    loa = facts.logon_only_as
    dns_to_add: list[str] = []
    near_misses: dict[str, str] = {}
    for f in findings:
        if f.add_dn and f.dn and f.dn.casefold() not in {d.casefold() for d in dns_to_add}:
            dns_to_add.append(f.dn)
        if f.add_dn and f.dn and f.replaces:
            near_misses[f.replaces] = f.dn
    all_warnings = list(warnings) + rule_errors
    findings = [_capped(f, all_warnings) for f in findings]
    if facts.evidence.unparsed:
        refs = ", ".join(f"{r.path} record {r.record}" for r in facts.evidence.unparsed[:5])
        all_warnings.append(
            f"{len(facts.evidence.unparsed)} event(s) 1023 hold no readable /o= DN and were not used ({refs})"
        )
    computers = sorted({r.computer for r in facts.evidence.refusals if r.computer}, key=str.casefold)
    if len(computers) > 1 and loa.state != "unknown":
        all_warnings.append(
            f"the refusals were logged on several servers ({', '.join(computers)}), but Logon Only As is a "
            f"per-server value: {loa.source} was read as the list of each of them; check each server's own list"
        )
    refusal_times = [r.time for r in facts.evidence.refusals if r.time is not None]
    if loa.last_write is not None and refusal_times and all(t.tzinfo is None for t in refusal_times):
        all_warnings.append(
            "the refusals carry local times of a text export (zone unknown), so they were not compared with the "
            "registry's last-write time; give --tz ZONE to compare them"
        )
    remediation, lockout = _remediation(facts, dns_to_add, near_misses, reg_version, all_warnings, replace_near_misses)
    if lockout is not None:
        findings.append(lockout)
    needs_action = (
        bool(dns_to_add)
        or any(f.severity is Severity.ERROR for f in findings)
        or any(f.rule == "LOA-UNKNOWN" and f.severity is Severity.WARNING for f in findings)
    )
    verdict = compose_verdict(facts, findings, dns_to_add, remediation, usable=usable, errors=errors)
    return Diagnosis(
        case=case,
        inputs=list(inputs),
        logon_only_as=loa,
        finding_list=findings,
        dns_to_add=dns_to_add,
        remediation=remediation,
        verdict=verdict,
        warnings=all_warnings,
        needs_action=needs_action and usable,
        usable=usable,
        errors=list(errors),
    )


#: Evidence references kept per finding (``count`` keeps the total); keeps JSON small for huge logs.
MAX_EVIDENCE = 500


def _capped(finding: Finding, warnings: list[str]) -> Finding:
    if len(finding.evidence) <= MAX_EVIDENCE:
        return finding
    warnings.append(
        f"finding {finding.rule} ({finding.title}): evidence list cut to the first {MAX_EVIDENCE} of "
        f"{len(finding.evidence)} references; its count keeps the total"
    )
    return dataclasses.replace(finding, evidence=finding.evidence[:MAX_EVIDENCE])


def diagnose_objects(
    events: Iterable[Event],
    registries: Iterable[Any] = (),
    *,
    case: str = "in-memory",
    reg_version: int | None = None,
    replace_near_misses: bool = False,
) -> Diagnosis:
    """Diagnose in-memory objects: Events and ``registry.Registry`` views (or LogonOnlyAs readings)."""
    evidence = Evidence()
    evidence.feed_all(events)
    evidence.logs = 1
    registries = list(registries)
    readings = [r if isinstance(r, LogonOnlyAs) else read_logon_only_as(r) for r in registries]
    views = [(r, None) for r in registries if not isinstance(r, LogonOnlyAs)]
    keys = RegistryFacts.from_registries(views, _watched_keys())
    facts = CaseFacts(evidence, choose_logon_only_as(readings), registry_read=bool(readings), registry=keys)
    return diagnose_facts(facts, case=case, reg_version=reg_version, replace_near_misses=replace_near_misses)


def _watched_keys() -> list[str]:
    """Registry keys the rules read beyond Logon Only As (see ``analyzer.rules.watched_keys``)."""
    from analyzer.rules import watched_keys

    return watched_keys()


LOCKOUT_RULE = "LOCK-OUT"


def _remediation(
    facts: CaseFacts,
    dns: list[str],
    near_misses: dict[str, str],
    version: int | None,
    warnings: list[str],
    replace_near_misses: bool = False,
) -> tuple[Remediation | None, Finding | None]:
    """The .reg patch when the list must change (set: add; blank: delete the value), or the finding
    that says why no patch is offered when it would lock out what works today."""
    loa = facts.logon_only_as
    if loa.state not in ("set", "empty") or not dns:
        return None, None
    from analyzer.remedy import LockOutError, RemediationError, build_remediation

    try:
        return build_remediation(
            state=loa.state,
            current=list(loa.raw_entries if loa.raw_entries is not None else loa.entries),
            add=list(dns),
            near_misses=dict(near_misses),
            replace_near_misses=replace_near_misses,
            working=working_components(facts),
            key=_live_key(loa.key),
            version=version or 4,
            delete_value=loa.state == "empty",
            restart_imc=any(classify(d).key == "internet mail connector" for d in dns),
        ), None
    except LockOutError as exc:
        return None, _lockout_finding(exc.problems, loa)
    except RemediationError as exc:
        warnings.append(f"no .reg patch: {exc}")
        return None, None


def _lockout_finding(problems: list[str], loa: LogonOnlyAs) -> Finding:
    """No patch: the one that would fix the refusals would also refuse something that works today."""
    return Finding(
        rule=LOCKOUT_RULE,
        severity=Severity.ERROR,
        title="No .reg patch: it would lock out what works today",
        explanation=(
            "A patch for Logon Only As must keep every entry of the current list and go on admitting every "
            "component the case shows working; the patch that would add the refused DNs does not: "
            + "; ".join(problems)
            + ". Add the DNs above by hand in Regedt32 without removing any entry, then restart the Information "
            "Store."
        ),
        evidence=(EvidenceRef(path=loa.source or "registry", key=loa.key, value="Logon Only As"),),
        references=("KB146764",),
    )


def _live_key(key: str | None) -> str:
    return key or PARAMETERS_SYSTEM


# --------------------------------------------------------------------------- verdict


def _servers(facts: CaseFacts, dns: Iterable[str]) -> list[str]:
    wanted = {d.casefold() for d in dns}
    return sorted(
        {r.computer for r in facts.evidence.refusals if r.dn_a and r.dn_a.casefold() in wanted and r.computer}
    )


def compose_verdict(
    facts: CaseFacts,
    findings: list[Finding],
    dns: list[str],
    remediation: Remediation | None = None,
    *,
    usable: bool = True,
    errors: Sequence[str] = (),
) -> str:
    """The short first paragraph: what to do, on which server, and why in one clause."""
    loa = facts.logon_only_as
    if not usable:
        return "No usable input: " + ("; ".join(errors) if errors else "the case holds no file") + "."
    parts: list[str] = []
    servers = _servers(facts, dns)
    where = f" on {', '.join(servers)}" if servers else ""
    ims = any(classify(d).key == "internet mail connector" for d in dns)
    restart = "restart the Information Store" + (" and then the Internet Mail Service" if ims else "")
    kbs = list(dict.fromkeys(r for f in findings if f.add_dn for r in f.references[:1]))
    if dns and loa.state == "set":
        noun = "this DN" if len(dns) == 1 else "these DNs"
        text = f"Add {noun} to Logon Only As{where}: " + "; ".join(dns)
        misses = remediation.near_misses if remediation is not None else []
        replaced = [m.entry for m in misses if m.action == "replaced"]
        if replaced:
            text += " (replacing " + "; ".join(f"the entry {old!r}" for old in replaced) + ")"
        parts.append(f"{text}; then {restart} ({', '.join('KB ' + k[2:] for k in kbs)}).")
        kept = [m.entry for m in misses if m.action == "kept"]
        if kept:
            parts.append(
                ("The entry " if len(kept) == 1 else "The entries ")
                + "; ".join(repr(e) for e in kept)
                + (" is" if len(kept) == 1 else " are")
                + " probably mistyped — remove "
                + ("it" if len(kept) == 1 else "them")
                + " after the fix works (delete exactly the quoted text); the patch keeps every current entry."
            )
    elif dns and loa.state == "empty":
        parts.append(
            f"Logon Only As{where} is blank, so nobody can log on, including "
            + "; ".join(dns)
            + ". Delete the value when the maintenance is over (KB 146764), or list these DNs (and an admin "
            f"mailbox); then {restart}."
        )
    errors_f = [f for f in findings if f.severity is Severity.ERROR and not f.add_dn]
    for f in errors_f:
        if f.rule == "KB146764" and dns:
            continue
        parts.append(f"{f.title}." + _ADVICE.get(f.rule, _next_step)(f))
    if not parts:
        unknown = next((f for f in findings if f.rule == "LOA-UNKNOWN"), None)
        case_only = next((f for f in findings if f.rule == "LOA-CASE"), None)
        if unknown is not None and unknown.severity is Severity.WARNING:
            refused = sorted({g.dn_a for g in facts.evidence.refusals if g.dn_a and classify(g.dn_a).is_component})
            parts.append(
                "No registry export: cannot tell whether Logon Only As blocks "
                + "; ".join(refused)
                + f". Collect {PARAMETERS_SYSTEM} (see below)."
            )
        elif case_only is not None:
            parts.append(
                f"Nothing to add: {case_only.dn} is listed, though in different letter case (an undocumented "
                "comparison); the value only takes effect after an IS restart."
            )
        elif loa.state == "set" and any(f.rule == "KB146764" and "lock-out" in f.title for f in findings):
            parts.append(
                "Nothing to fix: only mailboxes were refused, by design, while Logon Only As is active; delete the "
                "value after the maintenance."
            )
        elif loa.state == "absent" and facts.evidence.refusals:
            named = sorted({f.rule for f in findings if f.rule in _LOOKALIKES})
            cause = f" Documented cause: {', '.join('KB ' + r[2:] for r in named)}." if named else ""
            parts.append(f"Logon Only As is not involved: the value does not exist.{cause}")
        elif loa.state in ("set", "empty") and any(f.title.startswith("Refused although listed") for f in findings):
            named = sorted({f.rule for f in findings if f.rule in _LOOKALIKES})
            cause = (
                " Documented cause: "
                + "; ".join(f"{f.title} (KB {f.rule[2:]})" for f in findings if f.rule in named)
                + "."
                if named
                else ""
            )
            parts.append(f"Not a Logon Only As problem: the refused identities are listed.{cause}")
        elif loa.state == "unknown" and not facts.evidence.refusals and not findings:
            parts.append(
                "Nothing found: the logs hold no 1023 logon refusal and no Exchange service failure, and no "
                "registry export shows Logon Only As."
            )
        else:
            warn = next((f for f in findings if f.severity is Severity.WARNING), None) or next(
                (f for f in findings if f.rule == "NO-MATCH"), None
            )
            parts.append(
                f"{warn.title}." if warn else f"Nothing to fix in Logon Only As (value {_state_word(loa.state)})."
            )
    if loa.choice:
        parts.append(loa.choice)
    return " ".join(parts)


_ADVICE = {
    LOCKOUT_RULE: lambda f: " Add the DNs above by hand in Regedt32 without removing any entry (see the finding).",
    "KB163243": lambda f: (
        " Check Mapisvc.inf and the service account's rights on System32, the private IS, and CommonName/HomeDSA "
        "under MSExchangeIMC\\Parameters (KB 163243, 186739)."
    ),
    "IS-DOWN": lambda f: (
        " Service-specific error 4294966781: transaction logs out of sequence, typically antivirus scanning "
        "Exchsrvr (KB 262375); repair the store first."
        if "KB262375" in f.references
        else " Find why the store stopped (System log, SCM events) before looking at logons."
    ),
}


def _next_step(f: Finding) -> str:
    """The "Next step: …" sentence data rules end their explanation with (analyzer.rules.engine)."""
    _, sep, step = f.explanation.rpartition("Next step: ")
    return f" Next step: {step}" if sep else ""


_LOOKALIKES = {"KB259578", "KB188594", "KB237481", "KB158028", "KB173776"}


def _state_word(state: str) -> str:
    return {"absent": "absent", "empty": "blank", "set": "set", "unknown": "not in the case"}.get(state, state)


# --------------------------------------------------------------------------- reading a case


def _warning_text(w: ReadWarning) -> str:
    where = f" (offset 0x{w.offset:x})" if w.offset is not None else ""
    return f"{w.message}{where}"


def diagnose_case(
    case: Case,
    *,
    tz: tzinfo | None = None,
    evtx_backend: str | None = None,
    encoding: str | None = None,
    reg_version: int | str | None = None,
    read_limits: ReadLimits | None = None,
    language: str | None = None,
    replace_near_misses: bool = False,
) -> Diagnosis:
    """Read every usable input of an opened case (events streamed, filtered by ID) and diagnose.

    ``read_limits`` (analyzer.limits; default ``DEFAULT_LIMITS``) bounds each file's size, records, strings.
    ``replace_near_misses``: the patch replaces a probably mistyped entry instead of keeping it."""
    read_limits = read_limits or DEFAULT_LIMITS
    from analyzer.events import iter_file
    from analyzer.registry import read_registry

    evidence = Evidence()
    readings: list[LogonOnlyAs] = []
    watched = _watched_keys()
    keys = RegistryFacts()
    real_by_source: dict[str, str] = {}
    errors: list[str] = []
    read_ok = 0
    for item in case.inputs:
        if item.format is None or item.error is not None:
            if item.error is not None:
                errors.append(f"{item.path}: {item.error}")
            continue
        sink_list: list[ReadWarning] = []
        if item.format in EVENT_FORMATS:
            before = evidence.event_count
            try:
                stream = iter_file(
                    item.real_path,
                    fmt=item.format,
                    filters=EVIDENCE_FILTER,
                    warn=sink_list.append,
                    evtx_backend=evtx_backend,
                    tz=tz,
                    encoding=encoding,
                    limits=read_limits,
                    language=language,
                )
                evidence.feed_all(stream, item.path)
                evidence.logs += 1
                read_ok += 1
            except InputError as exc:
                got = evidence.event_count - before
                if got:
                    item.warnings.append(f"reading stopped: {exc.reason}")
                    read_ok += 1
                else:
                    item.error = exc.reason
            except Exception as exc:  # a reader bug must not end the case: the file becomes a warning
                reason = f"cannot read ({type(exc).__name__}: {exc})"
                if evidence.event_count - before:
                    item.warnings.append(f"reading stopped: {reason}")
                    read_ok += 1
                else:
                    item.error = reason
            item.records = evidence.event_count - before
        elif item.format in REGISTRY_FORMATS:
            try:
                registry = read_registry(
                    item.real_path, fmt=item.format, encoding=encoding, warn=sink_list.append, limits=read_limits
                )
                reading = read_logon_only_as(registry, item.path)
                readings.append(reading)
                merged = RegistryFacts.from_registries([(registry, item.path)], watched)
                keys.hives |= merged.hives
                for state in merged.keys.values():
                    keys.add(state)
                real_by_source[item.path] = item.real_path
                item.records = registry.file.values_read or reading.values_read
                read_ok += 1
                sink_list.extend(w for w in registry.warnings if w not in sink_list)
            except InputError as exc:
                item.error = exc.reason
            except Exception as exc:
                item.error = f"cannot read ({type(exc).__name__}: {exc})"
        else:
            item.error = item.error or f"not an event log or registry export ({item.format})"
        for w in sink_list:
            if isinstance(w, ReadNote):  # how the file was read (language, code page): not a problem
                item.note = item.note or w.message
                continue
            text = _warning_text(w)
            if text not in item.warnings:
                item.warnings.append(text)
        if item.error is not None:
            errors.append(f"{item.path}: {item.error}")
    loa = choose_logon_only_as(readings)
    facts = CaseFacts(evidence, loa, registry_read=bool(readings), registry=keys)
    warnings = list(case.warnings)
    if read_ok:
        warnings.extend(f"{item.path}: not used: {item.error}" for item in case.inputs if item.error is not None)
    version = _version(reg_version, loa, real_by_source)
    usable = read_ok > 0
    if not case.inputs:
        errors.append(f"{case.root}: no files in the case")
    return diagnose_facts(
        facts,
        case=case.name,
        inputs=case.inputs,
        warnings=warnings,
        reg_version=version,
        usable=usable,
        errors=errors,
        replace_near_misses=replace_near_misses,
    )


def _version(explicit: int | str | None, loa: LogonOnlyAs, real_by_source: dict[str, str]) -> int:
    """Patch version: as asked; else as the .reg export used (5.00 is UTF-16 with BOM); else REGEDIT4,
    which regedit imports on NT 4.0 and Windows 2000 alike."""
    if explicit:
        return int(explicit)
    if loa.format == "reg" and loa.source in real_by_source:
        try:
            with open(real_by_source[loa.source], "rb") as fh:
                head = fh.read(256)
        except OSError:
            return 4
        text = (
            head.decode("utf-16", errors="ignore") if head[:2] in (b"\xff\xfe", b"\xfe\xff") else head.decode("latin-1")
        )
        return 5 if "Windows Registry Editor Version 5" in text else 4
    if loa.format == "regquery":
        return 5
    return 4


def diagnose(
    paths: str | Sequence[str],
    *,
    tz: tzinfo | None = None,
    evtx_backend: str | None = None,
    encoding: str | None = None,
    reg_version: int | str | None = None,
    read_limits: ReadLimits | None = None,
    case_limits: CaseLimits | None = None,
    language: str | None = None,
    replace_near_misses: bool = False,
) -> Diagnosis:
    """Diagnose one case given as files, folders and/or .zip archives (raises InputError when no path exists).

    ``read_limits`` / ``case_limits``: see analyzer.limits and analyzer.case.CaseLimits (documented defaults).
    ``replace_near_misses``: the patch replaces a probably mistyped entry instead of keeping it (by default
    it keeps every current entry and the verdict names the entry to remove after the fix works)."""
    from analyzer.case import open_case

    with open_case(paths, limits=case_limits) as case:
        return diagnose_case(
            case,
            tz=tz,
            evtx_backend=evtx_backend,
            encoding=encoding,
            reg_version=reg_version,
            read_limits=read_limits,
            language=language,
            replace_near_misses=replace_near_misses,
        )
