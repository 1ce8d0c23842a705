"""Documented causes of Event 1023 that have nothing to do with Logon Only As (DOMAIN.md §2.1, §5).

Each ``explain_*`` tells whether one refusal group fits the pattern of a KB article and returns a
sentence naming the cause; the look-alike rules (KB259578, KB188594, KB237481, KB158028, KB173776)
turn matches into informational findings, and KB146764 uses them to name the cause when the value
is absent.  They apply only when Logon Only As cannot be the cause: the value is absent, unknown (then
worded as a possibility), or the validated-as DN is listed.
"""

from __future__ import annotations

from collections.abc import Callable

from analyzer.dn import parse_dn
from analyzer.evidence import CaseFacts, within
from analyzer.model import EvidenceRef, Finding, Severity
from analyzer.rules.base import RefusalGroup, match_list, refusal_groups, span

Explainer = Callable[[CaseFacts, RefusalGroup], tuple[str, tuple[EvidenceRef, ...]] | None]


def not_logon_only_as(facts: CaseFacts, group: RefusalGroup) -> bool:
    """Logon Only As cannot explain this group: no value, no registry, or DN-A listed."""
    state = facts.logon_only_as.state
    return state in ("absent", "unknown") or match_list(facts, group.dn_a, near=False).held


def explain_259578(facts: CaseFacts, group: RefusalGroup) -> tuple[str, tuple[EvidenceRef, ...]] | None:
    """System Attendant validated, a mailbox as target: an Event Service script on a deleted mailbox."""
    info = group.info
    if info.kind != "server_component" or info.key != "microsoft system attendant" or group.self_logon:
        return None
    es = [e for e in facts.evidence.event_service if any(within(e.time, r.time) for r in group.events)]
    codes = sorted({e.code for e in es if e.code})
    tail = (
        f" MSExchangeES 11 ({', '.join(codes) or 'no code'}) was logged at the same time, as the article describes."
        if es
        else " No MSExchangeES 11 was found next to it (the article pairs the two), so this is the likely, not "
        "the certain, cause."
    )
    return (
        "The System Attendant identity (used by the Exchange Event Service) failed to open "
        f"{group.dn_b}: a published Event Service script still points at a deleted mailbox or folder — harmless "
        "(KB 259578)." + tail,
        tuple(e.ref for e in es),
    )


def explain_188594(facts: CaseFacts, group: RefusalGroup) -> tuple[str, tuple[EvidenceRef, ...]] | None:
    """MBClean's odd identity ``cn=Recipients, Utility/cn=MSExchangeMCA`` (inferred from KB 188594)."""
    if group.info.kind != "utility":
        return None
    return (
        "The validated-as DN is the MBClean utility's identity: MBClean run against mailboxes of another server "
        "logs these failure audits; they are harmless (KB 188594).",
        (),
    )


def explain_237481(facts: CaseFacts, group: RefusalGroup) -> tuple[str, tuple[EvidenceRef, ...]] | None:
    """Mailbox Manager logs on as its add-in object (inferred from KB 237481)."""
    if group.info.kind != "addin" or group.self_logon:
        return None
    return (
        f"The validated-as DN is an add-in ({group.info.component}); Mailbox Manager cleaning mailboxes that live "
        "on another server logs these failure audits; they are harmless (KB 237481).",
        (),
    )


def explain_158028(facts: CaseFacts, group: RefusalGroup) -> tuple[str, tuple[EvidenceRef, ...]] | None:
    """DN-A and DN-B in different organisations or sites: a profile from before an org/site rename."""
    if group.dn_b is None or group.self_logon:
        return None
    a, b = parse_dn(group.dn_a), parse_dn(group.dn_b)
    if a is None or b is None:
        return None
    if (a.org or "").casefold() == (b.org or "").casefold() and (a.site or "").casefold() == (b.site or "").casefold():
        return None
    return (
        f"The validated-as DN ({a.org}/{a.site}) and the target DN ({b.org}/{b.site}) are in different "
        "organisations or sites: a client still uses a profile made before the organisation or site was renamed "
        "(KB 158028); recreate the profile.",
        (),
    )


def explain_173776(facts: CaseFacts, group: RefusalGroup) -> tuple[str, tuple[EvidenceRef, ...]] | None:
    """IMAP4 13003 next to the 1023: an IMAP/POP logon to a custom recipient (no mailbox), by design."""
    imap = [e for e in facts.evidence.imap if any(within(e.time, r.time) for r in group.events)]
    if not imap or group.info.is_component:
        return None
    return (
        f"An IMAP4 13003 was logged with it: an IMAP4/POP3 client logged on as {group.dn_b or group.dn_a}, which is "
        "a custom recipient without a mailbox — refused by design (KB 173776).",
        tuple(e.ref for e in imap),
    )


EXPLAINERS: dict[str, Explainer] = {
    "KB259578": explain_259578,
    "KB188594": explain_188594,
    "KB237481": explain_237481,
    "KB158028": explain_158028,
    "KB173776": explain_173776,
}


def explain(facts: CaseFacts, group: RefusalGroup) -> list[tuple[str, str]]:
    """(rule id, sentence) of every look-alike that fits the group."""
    out = []
    for rule, fn in EXPLAINERS.items():
        found = fn(facts, group)
        if found is not None:
            out.append((rule, found[0]))
    return out


def lookalike_findings(facts: CaseFacts, rule: str, title: str) -> list[Finding]:
    """Informational findings of one look-alike rule over all refusal groups it explains."""
    fn = EXPLAINERS[rule]
    out: list[Finding] = []
    for group in refusal_groups(facts):
        if not not_logon_only_as(facts, group):
            continue
        found = fn(facts, group)
        if found is None:
            continue
        sentence, extra = found
        if facts.logon_only_as.state == "unknown":
            sentence += " (No registry export: confirm that Logon Only As is absent or lists this DN.)"
        first, last = span(e.time for e in group.events)
        accounts = group.accounts
        out.append(
            Finding(
                rule=rule,
                severity=Severity.INFO,
                title=title,
                explanation=sentence,
                component=group.info.label,
                dn=group.dn_a,
                account=", ".join(accounts) or None,
                count=len(group.events),
                first_seen=first,
                last_seen=last,
                evidence=group.refs + extra,
                references=(rule,),
                assumptions=(("(inferred) the identity this component logs on with",) if group.info.inferred else ()),
            )
        )
    return out
