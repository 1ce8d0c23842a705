"""The verdict: the short first paragraph of a diagnosis — what to do, on which server, and why.

It is composed from the findings' typed ``kind`` (``analyzer.model.FindingKind``) and the fields of the
rules that produced them (``Rule.advice``), never from finding titles, so rewording a title cannot
change a verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from analyzer.dn import classify
from analyzer.evidence import PARAMETERS_SYSTEM, CaseFacts
from analyzer.model import Finding, FindingKind, Severity
from analyzer.remedy import Remediation
from analyzer.rules import get_rule


def needs_action(findings: Sequence[Finding], dns_to_add: Sequence[str]) -> bool:
    """Something must change: a DN to add, an error, or refused components without a registry export."""
    return (
        bool(dns_to_add)
        or any(f.severity is Severity.ERROR for f in findings)
        or any(
            f.kind in (FindingKind.REGISTRY_NEEDED, FindingKind.DN_UNCONFIRMED) and f.severity is Severity.WARNING
            for f in findings
        )
    )


def _servers(facts: CaseFacts, dns: Iterable[str]) -> list[str]:
    wanted = {d.casefold() for d in dns}
    return sorted(
        {r.computer for r in facts.evidence.refusals if r.dn_a and r.dn_a.casefold() in wanted and r.computer}
    )


#: Advice for findings the diagnosis itself makes (no rule carries them).
_KIND_ADVICE = {
    FindingKind.PATCH_WITHHELD: " Add the DNs above by hand in Regedt32 without removing any entry (see the finding).",
}


def _advice(finding: Finding) -> str:
    """The sentence the finding's rule appends in the verdict (``Rule.advice``), or nothing."""
    if finding.kind in _KIND_ADVICE:
        return _KIND_ADVICE[finding.kind]
    rule = get_rule(finding.rule)
    return rule.advice(finding) if rule is not None and rule.advice is not None else ""


def _state_word(state: str) -> str:
    return {"absent": "absent", "empty": "blank", "set": "set", "unknown": "not in the case"}.get(state, state)


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
    for f in findings:
        if f.severity is not Severity.ERROR or f.add_dn:
            continue
        if f.kind is FindingKind.BLANK_LIST and dns:  # already said by the blank-list sentence above
            continue
        parts.append(f"{f.title}." + _advice(f))
    if not parts:
        parts.append(_without_action(facts, findings))
    if facts.evidence.unconfirmed:
        parts.append(_unconfirmed_sentence(facts))
    if loa.choice:
        parts.append(loa.choice)
    return " ".join(p for p in parts if p)


def _without_action(facts: CaseFacts, findings: list[Finding]) -> str:
    """The verdict when no DN is to be added and no error stands: what the case does show."""
    loa = facts.logon_only_as
    unknown = next((f for f in findings if f.kind is FindingKind.REGISTRY_NEEDED), None)
    case_only = next((f for f in findings if f.kind is FindingKind.CASE_ONLY), None)
    lookalikes = [f for f in findings if f.kind is FindingKind.LOOKALIKE]
    if unknown is not None and unknown.severity is Severity.WARNING:
        refused = sorted({g.dn_a for g in facts.evidence.refusals if g.dn_a and classify(g.dn_a).is_component})
        return (
            "No registry export: cannot tell whether Logon Only As blocks "
            + "; ".join(refused)
            + f". Collect {PARAMETERS_SYSTEM} (see below)."
        )
    if case_only is not None:
        return (
            f"Nothing to add: {case_only.dn} is listed, though in different letter case (an undocumented "
            "comparison); the value only takes effect after an IS restart."
        )
    if loa.state == "set" and any(f.kind is FindingKind.LOCKOUT for f in findings):
        return (
            "Nothing to fix: only mailboxes were refused, by design, while Logon Only As is active; delete the "
            "value after the maintenance."
        )
    if loa.state == "absent" and facts.evidence.refusals:
        named = sorted({f.rule for f in lookalikes})
        cause = f" Documented cause: {', '.join('KB ' + r[2:] for r in named)}." if named else ""
        return f"Logon Only As is not involved: the value does not exist.{cause}"
    if loa.state in ("set", "empty") and any(f.kind is FindingKind.LISTED_REFUSED for f in findings):
        cause = (
            " Documented cause: " + "; ".join(dict.fromkeys(f"{f.title} (KB {f.rule[2:]})" for f in lookalikes)) + "."
            if lookalikes
            else ""
        )
        return f"Not a Logon Only As problem: the refused identities are listed.{cause}"
    if loa.state == "unknown" and not facts.evidence.refusals and not findings:
        return (
            "Nothing found: the logs hold no 1023 logon refusal and no Exchange service failure, and no "
            "registry export shows Logon Only As."
        )
    warn = next(
        (f for f in findings if f.severity is Severity.WARNING and f.kind is not FindingKind.DN_UNCONFIRMED), None
    ) or next((f for f in findings if f.kind is FindingKind.NO_MATCH), None)
    if warn is not None:
        return f"{warn.title}."
    if facts.evidence.unconfirmed:
        return ""  # the sentence about the unconfirmed refusals follows
    return f"Nothing to fix in Logon Only As (value {_state_word(loa.state)})."


def _unconfirmed_sentence(facts: CaseFacts) -> str:
    pending = facts.evidence.unconfirmed
    files = sorted({u.ref.path for u in pending})
    return (
        f"{len(pending)} refused logon(s) (1023) in {', '.join(files)} name a DN that cannot be read safely from "
        "that file, so no DN is proposed for them: collect the Application log itself (.evt), or a text export "
        "made on a machine with the Exchange message files."
    )
