"""KB 306308: a component (IMS, other connectors, agents) is refused because Logon Only As does not list it.

The founding case: with logons limited (KB 146764) and the Internet Mail Connector's DN missing from
the list, the IS logs 1023 with that DN as validated-as identity and the IMS does not start (4018,
4116, Error 2140).  Fix: add the DN exactly as the event prints it, restart the IS, then the IMS.
System Attendant and DSA DNs are handled by KB218920 / KB199954.
"""

from __future__ import annotations

from analyzer.evidence import IMC_FAILURES, LOGONS, SCM_FAILURES, CaseFacts
from analyzer.model import Finding
from analyzer.rules.factories import ADMIN_DN, IMS_DN, e1023, imc, sa_dn, scm, user_dn
from analyzer.rules.logic import (
    corroborate,
    missing_entry,
    near_miss_sentence,
    service_of,
    unlisted,
)
from analyzer.rules.records import Fixture, Rule

ID = "KB306308"
EDK_ASSUMPTION = (
    "(inferred) EDK-based connectors (MS Mail, cc:Mail, others) own a mailbox in the private IS like the IMC "
    "(KB 152931), so they need an entry too; no KB says so"
)


def is_sa_or_dsa(kind: str, key: str | None) -> bool:
    return kind == "server_component" and key in ("microsoft system attendant", "microsoft dsa")


def check(facts: CaseFacts) -> list[Finding]:
    state = facts.logon_only_as.state
    out: list[Finding] = []
    for dn in unlisted(facts, lambda g: g.info.is_component and not is_sa_or_dsa(g.info.kind, g.info.key)):
        first, info, match = dn.first, dn.first.info, dn.match
        events = dn.events
        corr = corroborate(facts, [e.time for e in events], service_of(info))
        accounts = dn.accounts
        why = (
            "Logon Only As is blank, so nobody may log on (KB 146764)"
            if state == "empty"
            else "Logon Only As is set and does not hold this DN, so only the listed DNs may log on (KB 146764)"
        )
        ims = info.key == "internet mail connector"
        effect = (
            "The Internet Mail Service cannot open its mailbox and does not start (Error 2140, 4018/4116)."
            if ims
            else f"The {info.component} cannot open its mailbox in the IS."
        )
        mistyped = match.mistyped
        keep = (
            f"The entry {mistyped.entry!r} is probably a mistyped copy of this DN: the patch keeps it (unless run "
            "with --replace-near-misses); remove it once the fix works."
            if mistyped
            else ""
        )
        explanation = " ".join(
            part
            for part in (
                f"MSExchangeIS logged {len(events)} failure audit(s) 1023: {', '.join(accounts) or 'the service account'} "
                f"was validated as {first.dn_a} but was unable to log on.",
                f"{why}.",
                effect,
                near_miss_sentence(match),
                corr.sentence(info.component) if ims or service_of(info) else "",
                "Add this DN exactly as the event writes it, then restart the Information Store"
                + (" and then the Internet Mail Service (KB 306308)." if ims else "."),
                keep,
            )
            if part
        )
        assumptions: list[str] = []
        if info.kind == "connector" and not ims:
            assumptions.append(EDK_ASSUMPTION)
        if info.kind in ("server_component", "configuration"):
            assumptions.append(
                f"(unverified) no KB ties the {info.component} to Logon Only As; the 1023 shows it was refused"
            )
        if info.inferred:
            assumptions.append(f"(inferred) {info.component} logs on with this DN")
        if mistyped and mistyped.reason == "typo":
            assumptions.append("a typo is judged by edit distance; check the entry before removing it")
        title = f"{info.label} is refused by the IS: its DN is not in Logon Only As"
        refs = ("KB306308", "KB146764") if ims else ("KB146764", "KB306308")
        out.append(missing_entry(ID, dn, title, explanation, refs, tuple(assumptions), corr.refs))
    return out


_IMS_DISPLAY = "/o=Contoso/ou=Berlin/cn=Configuration/cn=Connections/cn=Internet Mail Service (EXCH01)"
_CLASSIC = (
    e1023(IMS_DN),
    imc(4018, seconds=2),
    imc(4116, seconds=3),
    scm(7023, "Microsoft Exchange Internet Mail Service", "%%2140", seconds=5),
)
RULE = Rule(
    id=ID,
    title="Component refused because Logon Only As does not list it (IMS does not start)",
    references=("KB306308", "KB146764", "KB163243", "KB186739"),
    status="documented",
    level="error",
    diagnoses=(
        "Logon Only As set or blank and a 1023 whose validated-as DN is a connector or agent not in the list: "
        "add that DN verbatim; corroborated by MSExchangeIMC 4018/4116 and SCM events of the same start attempt."
    ),
    assumptions=(
        "(inferred) the validated-as DN (DN-A) is the one the list must hold",
        "(inferred) insertion strings are account, DN-A, DN-B; the parser does not depend on the order",
        EDK_ASSUMPTION,
    ),
    check=check,
    events=LOGONS + IMC_FAILURES + SCM_FAILURES,
    rank=10,
    fixtures=(
        Fixture("classic: IMS DN missing", True, _CLASSIC, (sa_dn(1), ADMIN_DN), dns=(IMS_DN,)),
        Fixture("blank value also blocks the IMS", True, (e1023(IMS_DN),), "empty", dns=(IMS_DN,)),
        Fixture(
            "display-name near miss is named",
            True,
            _CLASSIC,
            (sa_dn(1), _IMS_DISPLAY),
            dns=(IMS_DN,),
            replaces=_IMS_DISPLAY,
            contains=("display name",),
        ),
        Fixture("IMS DN listed", False, _CLASSIC, (sa_dn(1), IMS_DN)),
        Fixture("value absent", False, _CLASSIC, "absent"),
        Fixture("only a mailbox refused", False, (e1023(user_dn("jdoe")),), (sa_dn(1), ADMIN_DN)),
        Fixture("no registry export", False, _CLASSIC, None),
    ),
)
