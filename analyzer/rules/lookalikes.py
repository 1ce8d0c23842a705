"""Documented causes of Event 1023 that have nothing to do with Logon Only As: one table, five rules.

Each row names a KB article, tells by its ``explain_*`` function whether one refusal group fits the
article's pattern (returning a sentence naming the cause), and carries its rule metadata and fixtures;
``RULES`` turns every row into a ``Rule`` whose findings are informational (``FindingKind.LOOKALIKE``)
and whose ``explains`` lets KB146764 name the cause when the value is absent or the DN is listed.  They
apply only when Logon Only As cannot be the cause: the value is absent, unknown (then worded as a
possibility), or the validated-as DN is listed.  A look-alike is one row here (or, elsewhere, any rule
file that sets ``explains``).
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.dn import parse_dn
from analyzer.evidence import EVENT_SERVICE, IMAP_LOGONS, LOGONS, CaseFacts, EventNeed, TimeIndex
from analyzer.model import EventType, EvidenceRef, Finding, FindingKind, Severity
from analyzer.rules import all_rules
from analyzer.rules.factories import IMS_DN, ORG, e1023, es11, event, sa_dn, user_dn
from analyzer.rules.logic import RefusalGroup, match_list, refusal_groups, span
from analyzer.rules.records import Explainer, Fixture, Rule


def not_logon_only_as(facts: CaseFacts, group: RefusalGroup) -> bool:
    """Logon Only As cannot explain this group: no value, no registry, or DN-A listed."""
    state = facts.logon_only_as.state
    return state in ("absent", "unknown") or match_list(facts, group.dn_a, near=False).held


def explain_259578(facts: CaseFacts, group: RefusalGroup) -> tuple[str, tuple[EvidenceRef, ...]] | None:
    """System Attendant validated, a mailbox as target: an Event Service script on a deleted mailbox."""
    info = group.info
    if info.kind != "server_component" or info.key != "microsoft system attendant" or group.self_logon:
        return None
    near = TimeIndex(r.time for r in group.events).near
    es = [e for e in facts.evidence.event_service if near(e.time)]
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
    near = TimeIndex(r.time for r in group.events).near
    imap = [e for e in facts.evidence.imap if near(e.time)]
    if not imap or group.info.is_component:
        return None
    return (
        f"An IMAP4 13003 was logged with it: an IMAP4/POP3 client logged on as {group.dn_b or group.dn_a}, which is "
        "a custom recipient without a mailbox — refused by design (KB 173776).",
        tuple(e.ref for e in imap),
    )


def explain(facts: CaseFacts, group: RefusalGroup) -> list[tuple[str, str]]:
    """(rule id, sentence) of every look-alike rule that fits the group."""
    out = []
    for rule in all_rules():
        found = rule.explains(facts, group) if rule.explains is not None else None
        if found is not None:
            out.append((rule.id, found[0]))
    return out


def lookalike_findings(facts: CaseFacts, rule: str, title: str, explainer: Explainer) -> list[Finding]:
    """Informational findings of one look-alike rule: one per refused identity (DN-A), however many targets
    it was refused opening, so that a finding names each DN once."""
    fitting: dict[str, list[tuple[RefusalGroup, str, tuple[EvidenceRef, ...]]]] = {}
    for group in refusal_groups(facts):
        if not not_logon_only_as(facts, group):
            continue
        found = explainer(facts, group)
        if found is not None:
            fitting.setdefault(group.dn_a.casefold(), []).append((group, *found))
    out: list[Finding] = []
    for hits in fitting.values():
        group = hits[0][0]
        sentences = list(dict.fromkeys(sentence for _, sentence, _ in hits))
        sentence = " ".join(sentences[:3]) + (f" ({len(sentences) - 3} more alike)" if len(sentences) > 3 else "")
        if len(hits) > 1:
            sentence += f" The same identity was refused opening {len(hits)} different objects."
        if facts.logon_only_as.state == "unknown":
            sentence += " (No registry export: confirm that Logon Only As is absent or lists this DN.)"
        events = [e for g, _, _ in hits for e in g.events]
        extra = tuple(dict.fromkeys(ref for _, _, refs in hits for ref in refs))
        first, last = span(e.time for e in events)
        accounts = sorted({a for g, _, _ in hits for a in g.accounts})
        out.append(
            Finding(
                rule=rule,
                severity=Severity.INFO,
                title=title,
                explanation=sentence,
                component=group.info.label,
                dn=group.dn_a,
                account=", ".join(accounts) or None,
                count=len(events),
                first_seen=first,
                last_seen=last,
                evidence=tuple(e.ref for e in events) + extra,
                references=(rule,),
                assumptions=(("(inferred) the identity this component logs on with",) if group.info.inferred else ()),
                kind=FindingKind.LOOKALIKE,
            )
        )
    return out


@dataclass(frozen=True)
class LookAlike:
    """One row of the table: a KB article whose 1023s look like a Logon Only As refusal."""

    id: str
    title: str
    status: str
    diagnoses: str
    assumptions: tuple[str, ...]
    explains: Explainer
    fixtures: tuple[Fixture, ...]
    rank: int
    extra_events: tuple[EventNeed, ...] = ()

    def rule(self) -> Rule:
        def check(facts: CaseFacts) -> list[Finding]:
            return lookalike_findings(facts, self.id, self.title, self.explains)

        return Rule(
            id=self.id,
            title=self.title,
            references=(self.id,),
            status=self.status,
            level="info",
            diagnoses=self.diagnoses,
            assumptions=self.assumptions,
            check=check,
            fixtures=self.fixtures,
            origin="",
            events=LOGONS + self.extra_events,
            explains=self.explains,
            rank=self.rank,
        )


_ES = (e1023(sa_dn(1), user_dn("user-3")), es11(seconds=1))
_OLD_DN = "/o=OldOrg/ou=Berlin/cn=Recipients/cn=jdoe"
_MBCLEAN_DN = f"{ORG}/cn=Recipients, Utility/cn=MSExchangeMCA"
_MCA_DN = f"{ORG}/cn=Configuration/cn=Add-Ins/cn=EXCH02"
_IMAP = event(13003, "IMAP4Svc", ("jdoe",), type=EventType.ERROR, seconds=1)

TABLE = (
    LookAlike(
        id="KB259578",
        title="Event Service script points at a deleted mailbox (harmless 1023, not Logon Only As)",
        status="documented",
        diagnoses="1023 validated as the System Attendant, target a mailbox, with MSExchangeES 11 0x8004011d.",
        assumptions=("(inferred) the Event Service logs on as the System Attendant DN",),
        explains=explain_259578,
        fixtures=(
            Fixture("SA listed, user target, ES 11", True, _ES, (sa_dn(1), IMS_DN), contains=("MSExchangeES 11",)),
            Fixture("value absent", True, _ES, "absent"),
            Fixture("SA self-logon is not this", False, (e1023(sa_dn(1)),), "absent"),
            Fixture("SA not listed: Logon Only As first", False, _ES, (IMS_DN,)),
        ),
        rank=100,
        extra_events=EVENT_SERVICE,
    ),
    LookAlike(
        id="KB188594",
        title="MBClean acting on remote mailboxes (harmless 1023, not Logon Only As)",
        status="inferred",
        diagnoses="1023 validated as cn=Recipients, Utility/cn=MSExchangeMCA (MBClean) while no restriction applies.",
        assumptions=("(inferred) MBClean's identity is the DN printed in KB 188594",),
        explains=explain_188594,
        fixtures=(
            Fixture("MBClean DN, value absent", True, (e1023(_MBCLEAN_DN, user_dn("jdoe")),), "absent"),
            Fixture("ordinary mailbox", False, (e1023(user_dn("jdoe")),), "absent"),
        ),
        rank=110,
    ),
    LookAlike(
        id="KB237481",
        title="Mailbox Manager acting on remote mailboxes (harmless 1023, not Logon Only As)",
        status="inferred",
        diagnoses="1023 validated as a cn=Add-Ins object with a mailbox as target while no restriction applies.",
        assumptions=("(inferred) Mailbox Manager logs on as cn=Configuration/cn=Add-Ins/cn=<server>",),
        explains=explain_237481,
        fixtures=(
            Fixture("add-in -> mailbox, value absent", True, (e1023(_MCA_DN, user_dn("jdoe")),), "absent"),
            Fixture("add-in self-logon", False, (e1023(_MCA_DN),), "absent"),
        ),
        rank=120,
    ),
    LookAlike(
        id="KB158028",
        title="Client profile from before an organisation/site rename (1023, not Logon Only As)",
        status="documented",
        diagnoses="1023 whose DN-A and DN-B differ in /o or /ou.",
        assumptions=(),
        explains=explain_158028,
        fixtures=(
            Fixture("different /o", True, (e1023(user_dn("jdoe"), _OLD_DN),), "absent", contains=("profile",)),
            Fixture("same org and site", False, (e1023(user_dn("jdoe"), user_dn("boss")),), "absent"),
        ),
        rank=130,
    ),
    LookAlike(
        id="KB173776",
        title="IMAP4/POP3 logon to a custom recipient (1023 by design, not Logon Only As)",
        status="documented",
        diagnoses="1023 for a recipient with an IMAP4 13003 logged at the same time.",
        assumptions=("(inferred) the IMAP4 event source is named IMAP4Svc / IMAP4",),
        explains=explain_173776,
        fixtures=(
            Fixture("1023 + 13003", True, (e1023(user_dn("custom")), _IMAP), "absent"),
            Fixture("1023 alone", False, (e1023(user_dn("custom")),), "absent"),
        ),
        rank=140,
        extra_events=IMAP_LOGONS,
    ),
)
RULES = tuple(row.rule() for row in TABLE)
