"""Diagnose one case: read every input, extract the evidence, run the rules, build verdict and fix.

The package reads as the steps of a diagnosis:

* ``reading`` — case reading: every file of an opened case into ``CaseFacts`` (events streamed through
  the pushdown filter the loaded rules need, registry exports snapshotted), per-file error handling and
  the patch's REGEDIT version;
* this module — the pure core: ``diagnose_facts`` runs the rules on facts and assembles the result (so
  tests and notebooks can diagnose in-memory objects with ``diagnose_objects``); ``diagnose_case`` and
  ``diagnose`` (paths: folders, .zip, files; ``case.open_case``) add the reading;
* ``per_server`` — a case with several servers: one diagnosis per server, put together;
* ``verdict`` — the first paragraph, composed from the findings' kinds and their rules' advice;
* ``result`` — the result model, ``Diagnosis``, and its JSON contract.

Several logs are all read.  Several registry exports are all read; the one used is the one whose
key was written last, then a binary hive over text (``evidence.choose_logon_only_as``), and the
verdict says which and why when they disagree.  When the case holds several servers
(``analyzer.servers`` pairs every artefact with its server), each server is diagnosed on its own
evidence against its own exports (``per_server``); nothing is chosen across servers.  A single folder
that looks like an archive of separate cases (``analyzer.many_cases``) is refused unless ``one_case``
is given.  A broken file among good ones is a warning; a case without any usable input is reported
per file (CLI exit 2).

``--reg-patch FILE`` writes the patch to FILE and the rollback beside it as ``<stem>-rollback.reg``
(``remedy.rollback_path``).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable, Sequence
from datetime import tzinfo
from typing import Any

from analyzer.case import Case, ReadProgress, open_case
from analyzer.dedup import merge_duplicates
from analyzer.diagnosis.per_server import diagnose_servers
from analyzer.diagnosis.reading import CaseReading, patch_version, read_case
from analyzer.diagnosis.result import FINDING_COLUMNS, SCHEMA, Diagnosis
from analyzer.diagnosis.verdict import compose_verdict, needs_action
from analyzer.dn import classify, dn_problem
from analyzer.events import read_options
from analyzer.evidence import (
    PARAMETERS_SYSTEM,
    CaseFacts,
    Evidence,
    LogonOnlyAs,
    RegistryFacts,
    choose_logon_only_as,
    read_logon_only_as,
)
from analyzer.limits import DEFAULT_LIMITS, CaseLimits, ReadLimits
from analyzer.lockout import working_components
from analyzer.many_cases import many_cases_message, separate_cases
from analyzer.model import Event, EvidenceRef, Finding, FindingKind, InputError, Severity
from analyzer.remedy import LockOutError, Remediation, RemediationError, build_remediation
from analyzer.rules import watched_events, watched_keys
from analyzer.rules.run import run_rules
from analyzer.servers import Pairing, orgs_by_path, pair

__all__ = [
    "FINDING_COLUMNS",
    "SCHEMA",
    "Diagnosis",
    "LogonOnlyAs",
    "ManyCasesError",
    "diagnose",
    "diagnose_case",
    "diagnose_facts",
    "diagnose_objects",
]

#: Evidence references kept per finding (``count`` keeps the total); keeps JSON small for huge logs.
MAX_EVIDENCE = 500


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
    merge_duplicates(facts.evidence)
    rule_errors: list[str] = []
    findings = run_rules(facts, errors=rule_errors)
    advice = [f for f in findings if f.kind is FindingKind.ADVICE]  # true of every such case: not a finding
    findings = [f for f in findings if f.kind is not FindingKind.ADVICE]
    dns_to_add: list[str] = []
    near_misses: dict[str, str] = {}
    for f in findings:
        if f.add_dn and f.dn and f.dn.casefold() not in {d.casefold() for d in dns_to_add}:
            dns_to_add.append(f.dn)
        if f.add_dn and f.dn and f.replaces:
            near_misses[f.replaces] = f.dn
    all_warnings = list(warnings) + rule_errors
    dns_to_add, near_misses = _proven_only(facts, dns_to_add, near_misses, all_warnings)
    findings = [_capped(f, all_warnings) for f in findings]
    all_warnings.extend(_evidence_warnings(facts))
    remediation, lockout = _remediation(facts, dns_to_add, near_misses, reg_version, all_warnings, replace_near_misses)
    if lockout is not None:
        findings.append(lockout)
    verdict = compose_verdict(facts, findings, dns_to_add, remediation, usable=usable, errors=errors)
    return Diagnosis(
        case=case,
        inputs=list(inputs),
        logon_only_as=facts.logon_only_as,
        finding_list=findings,
        dns_to_add=dns_to_add,
        remediation=remediation,
        verdict=verdict,
        warnings=all_warnings,
        needs_action=needs_action(findings, dns_to_add) and usable,
        usable=usable,
        errors=list(errors),
        unconfirmed=[u.to_dict() for u in facts.evidence.unconfirmed],
        advice=advice,
    )


def _proven_only(
    facts: CaseFacts, dns: list[str], near_misses: dict[str, str], warnings: list[str]
) -> tuple[list[str], dict[str, str]]:
    """The DN-safety invariant, checked where every proposed DN passes (verdict, JSON, patch): a DN is
    proposed only when it is well-formed and is, character for character, the DN-A of a refusal that
    ``analyzer.dn_source`` took safely from the input.  Anything else is dropped with a warning."""
    proven = {r.dn_a for r in facts.evidence.refusals if r.dn_a}
    kept: list[str] = []
    for dn in dns:
        problem = dn_problem(dn)
        if problem is None and dn in proven:
            kept.append(dn)
        else:
            why = problem or "it is not the DN of a refusal read from the input"
            warnings.append(f"internal check: {dn!r} was not proposed ({why})")
    return kept, {old: new for old, new in near_misses.items() if new in kept}


def _evidence_warnings(facts: CaseFacts) -> list[str]:
    """What the reader of the diagnosis must know about the evidence itself."""
    out: list[str] = []
    loa = facts.logon_only_as
    if facts.evidence.duplicates_merged:
        out.append(
            f"{facts.evidence.duplicates_merged} event(s) appear in more than one file "
            f"({', '.join(sorted(facts.evidence.merged_files))}) and are counted once"
        )
    computers = sorted({r.computer for r in facts.evidence.refusals if r.computer}, key=str.casefold)
    if len(computers) > 1 and loa.state != "unknown":
        out.append(
            f"the refusals were logged on several servers ({', '.join(computers)}), but Logon Only As is a "
            f"per-server value: {loa.source} was read as the list of each of them; check each server's own list"
        )
    refusal_times = [r.time for r in facts.evidence.refusals if r.time is not None]
    if loa.last_write is not None and refusal_times and all(t.tzinfo is None for t in refusal_times):
        out.append(
            "the refusals carry local times of a text export (zone unknown), so they were not compared with the "
            "registry's last-write time; give --tz ZONE to compare them"
        )
    return out


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
    evidence = Evidence(watched=watched_events())
    evidence.feed_all(events)
    evidence.logs = 1
    registries = list(registries)
    readings = [r if isinstance(r, LogonOnlyAs) else read_logon_only_as(r) for r in registries]
    views = [(r, None) for r in registries if not isinstance(r, LogonOnlyAs)]
    keys = RegistryFacts.from_registries(views, watched_keys())
    facts = CaseFacts(evidence, choose_logon_only_as(readings), registry_read=bool(readings), registry=keys)
    return diagnose_facts(facts, case=case, reg_version=reg_version, replace_near_misses=replace_near_misses)


#: The rule id of the finding that says why no patch is offered (it comes from the diagnosis, not a rule).
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
    try:
        return build_remediation(
            state=loa.state,
            current=list(loa.raw_entries if loa.raw_entries is not None else loa.entries),
            add=list(dns),
            near_misses=dict(near_misses),
            replace_near_misses=replace_near_misses,
            working=working_components(facts),
            listed_elsewhere=loa.elsewhere,
            key=loa.key or PARAMETERS_SYSTEM,
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
        kind=FindingKind.PATCH_WITHHELD,
    )


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
    progress: ReadProgress | None = None,
) -> Diagnosis:
    """Read every usable input of an opened case (events streamed, filtered by ID) and diagnose.

    ``read_limits`` (analyzer.limits; default ``DEFAULT_LIMITS``) bounds each file's size, records, strings.
    ``replace_near_misses``: the patch replaces a probably mistyped entry instead of keeping it.
    ``progress`` is told the bytes read so far and in all (``case.ReadProgress``: a bar's hook)."""
    options = read_options(
        tz=tz, encoding=encoding, evtx_backend=evtx_backend, limits=read_limits or DEFAULT_LIMITS, language=language
    )
    read = read_case(case, options, reg_version=reg_version, progress=progress)
    orgs = orgs_by_path(read.facts.evidence, read.artefacts)
    pairing = pair(read.artefacts)
    if read.usable and pairing.several:
        dx = _diagnose_servers(case, read, pairing, reg_version, replace_near_misses)
    else:
        dx = diagnose_facts(
            read.facts,
            case=case.name,
            inputs=case.inputs,
            warnings=read.warnings,
            reg_version=read.reg_version,
            usable=read.usable,
            errors=read.errors,
            replace_near_misses=replace_near_misses,
        )
    dx.separate_cases = separate_cases(read.artefacts, orgs)
    dx.server_names = list(pairing.names.values())
    return dx


def _diagnose_servers(
    case: Case, read: CaseReading, pairing: Pairing, reg_version: int | str | None, replace_near_misses: bool
) -> Diagnosis:
    """Several servers: each diagnosed on its own evidence against its own exports (``per_server``)."""
    several = diagnose_servers(
        case_name=case.name,
        inputs=case.inputs,
        pairing=pairing,
        artefacts=read.artefacts,
        evidence=read.facts.evidence,
        readings=read.exports,
        warnings=read.warnings,
        version_of=lambda chosen: patch_version(reg_version, chosen, read.real_by_source),
        diagnose_one=functools.partial(diagnose_facts, replace_near_misses=replace_near_misses),
    )
    return Diagnosis(
        case=case.name,
        inputs=list(case.inputs),
        logon_only_as=several.logon_only_as,
        finding_list=several.findings,
        dns_to_add=several.dns_to_add,
        unconfirmed=several.unconfirmed,
        advice=several.advice,
        remediation=None,  # one patch per server (servers[i]), never one across servers
        verdict=several.verdict,
        warnings=several.warnings,
        needs_action=several.needs_action,
        errors=list(read.errors),
        servers=several.servers,
    )


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
    one_case: bool = False,
    progress: ReadProgress | None = None,
) -> Diagnosis:
    """Diagnose one case given as files, folders and/or .zip archives (raises InputError when no path exists).

    ``read_limits`` / ``case_limits``: see analyzer.limits and analyzer.case.CaseLimits (documented defaults).
    ``replace_near_misses``: the patch replaces a probably mistyped entry instead of keeping it (by default
    it keeps every current entry and the verdict names the entry to remove after the fix works).
    A single folder or zip whose sub-folders look like separate cases (``analyzer.many_cases``) raises
    ``ManyCasesError`` (an InputError) unless ``one_case`` is true.  ``progress``: see ``diagnose_case``."""
    with open_case(paths, limits=case_limits) as case:
        dx = diagnose_case(
            case,
            tz=tz,
            evtx_backend=evtx_backend,
            encoding=encoding,
            reg_version=reg_version,
            read_limits=read_limits,
            language=language,
            replace_near_misses=replace_near_misses,
            progress=progress,
        )
    single = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if len(single) == 1 and dx.separate_cases and not one_case:
        raise ManyCasesError(str(single[0]), many_cases_message(str(single[0]), dx.separate_cases))
    return dx


class ManyCasesError(InputError):
    """The folder given as one case holds several separate cases (CLI: exit 2, pointing at triage)."""
