"""KB 163243 / 186739: the IMS does not start (4018) but no 1023 names its DN — not Logon Only As.

4018 ("MAPI could not be initialised") and Error 2140 are generic.  Only a 1023 for the Internet Mail
Connector DN at the same time ties them to Logon Only As; without it the documented causes are
Mapisvc.inf (missing, or no change rights for the service account on System32), no private IS on the
server (KB 157042), missing/invalid ``CommonName``/``HomeDSA`` under MSExchangeIMC\\Parameters, the
service account out of Domain Admins after a DC re-promotion (KB 262939), a Mapi32.dll of the wrong
service pack (KB 316616).
"""

from __future__ import annotations

from analyzer.evidence import IMC_FAILURES, LOGONS, SCM_FAILURES, CaseFacts, KeyState, TimeIndex
from analyzer.model import EvidenceRef, Finding, Severity
from analyzer.rules.factories import ADMIN_DN, IMS_DN, e1023, imc, scm
from analyzer.rules.logic import span
from analyzer.rules.records import Fixture, Rule

ID = "KB163243"
IMC_PARAMETERS = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters"
NAMES = ("CommonName", "HomeDSA")
_FORMAT = (
    "(unverified) the expected format of CommonName and HomeDSA is not documented in the KB articles used here: only their presence "
    "is checked, and HomeDSA is compared with the server name as a hint"
)


def registry_check(facts: CaseFacts, computers: set[str]) -> tuple[str, tuple[EvidenceRef, ...], bool]:
    """(sentence, registry evidence, a documented cause was found) for CommonName/HomeDSA (KB 163243)."""
    state: KeyState = facts.registry.key(IMC_PARAMETERS)
    if state.present is None:
        return (
            f"The case holds no export of {IMC_PARAMETERS}: send the SYSTEM hive (or a .reg export of that key) "
            "to check CommonName and HomeDSA.",
            (),
            False,
        )
    if state.present is False:
        return (
            f"{IMC_PARAMETERS} is absent in {state.source}, so CommonName and HomeDSA are missing: the IMS "
            "configuration in the registry is incomplete (KB 163243).",
            (state.ref(),),
            True,
        )
    blank = [n for n in NAMES if state.value(n) is None or not str(state.value(n).data or "").strip()]  # type: ignore[union-attr]
    refs = tuple(state.ref(n) for n in NAMES)
    if blank:
        return (
            f"{state.path} ({state.source}) lacks {' and '.join(blank)} (missing or blank): KB 163243 names this as "
            "a cause of 4018; restore the value(s), e.g. by re-running the IMS setup, then start the IMS.",
            refs,
            True,
        )
    home = str(state.value("HomeDSA").data).strip()  # type: ignore[union-attr]
    hint = ""
    if computers and home.casefold() not in computers:
        hint = (
            f" HomeDSA = {home!r} differs from the server that logged the 4018 ({', '.join(sorted(computers))}); "
            "if HomeDSA should name this server, that is the cause (format unverified)."
        )
    listed = ", ".join(f"{n} = {str(state.value(n).data)!r}" for n in NAMES)  # type: ignore[union-attr]
    return f"{state.path} holds {listed} (present; not otherwise validated).{hint}", refs, bool(hint)


def check(facts: CaseFacts) -> list[Finding]:
    ev = facts.evidence
    starts = [e for e in ev.imc if e.event_id == 4018]
    if not starts:
        return []
    ims_refusals = [
        r for r in ev.refusals if r.dn_a and "/cn=connections/cn=internet mail connector" in r.dn_a.casefold()
    ]
    is_down = [s for s in ev.services if s.service == "MSExchangeIS" and s.event_id in (7000, 7023, 7024, 7031)] + [
        s for s in ev.services if s.event_id == 7001 and s.depends_on == "MSExchangeIS"
    ]
    refused_near = TimeIndex(r.time for r in ims_refusals).near
    down_near = TimeIndex(s.time for s in is_down).near
    lonely = [e for e in starts if not refused_near(e.time) and not down_near(e.time)]
    if not lonely:
        return []
    lonely_near = TimeIndex(e.time for e in lonely).near
    others = [e for e in ev.imc if e.event_id != 4018 and lonely_near(e.time)]
    scms = [s for s in ev.services if s.service == "MSExchangeIMC" and lonely_near(s.time)]
    first, last = span(e.time for e in lonely)
    loa = facts.logon_only_as.state
    state = {
        "absent": "Logon Only As does not exist",
        "unknown": "the registry was not provided, but no 1023 names the IMS DN",
    }.get(loa, "no 1023 names the IMS DN")
    seen = ", ".join(dict.fromkeys([f"MSExchangeIMC {e.event_id}" for e in lonely + others]))
    computers = {e.computer.casefold() for e in lonely if e.computer}
    reg_text, reg_refs, reg_cause = registry_check(facts, computers)
    title = "The Internet Mail Service does not start, and Logon Only As is not the cause"
    if reg_cause:
        title += ": check CommonName/HomeDSA"
    return [
        Finding(
            rule=ID,
            severity=Severity.ERROR,
            title=title,
            explanation=(
                f"{seen} logged without a 1023 for the Internet Mail Connector DN at the same time ({state}). "
                f"{reg_text} "
                "4018 alone proves nothing (KB 163243, 186739). Check: Mapisvc.inf present in %SystemRoot%\\System32 "
                "and the service account allowed to change it and System32 (KB 163243, 186739); a private IS on "
                "this server (KB 157042); CommonName and HomeDSA under "
                "HKLM\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeIMC\\Parameters (KB 163243); the service "
                "account still in Domain Admins after a DC re-promotion (KB 262939); Mapi32.dll matching the "
                "service pack (KB 316616)."
            ),
            component="Internet Mail Service",
            count=len(lonely),
            first_seen=first,
            last_seen=last,
            evidence=tuple(e.ref for e in lonely + others) + tuple(s.ref for s in scms) + reg_refs,
            references=("KB163243", "KB186739", "KB157042", "KB262939", "KB316616"),
            assumptions=(_FORMAT,) if reg_refs else (),
        )
    ]


def advice(finding: Finding) -> str:
    """The verdict's next step: the documented causes of a lonely 4018."""
    return (
        " Check Mapisvc.inf and the service account's rights on System32, the private IS, and CommonName/HomeDSA "
        "under MSExchangeIMC\\Parameters (KB 163243, 186739)."
    )


_IMS_FAIL = (imc(4018), imc(4116, seconds=1), scm(7023, "Microsoft Exchange Internet Mail Service", "%%2140"))
RULE = Rule(
    id=ID,
    title="IMS start failure (4018) without a 1023 for its DN: other causes",
    references=("KB163243", "KB186739", "KB157042", "KB262939", "KB316616"),
    status="documented",
    level="error",
    diagnoses="MSExchangeIMC 4018 with no 1023 for the IMS DN within the window and the IS running.",
    assumptions=(_FORMAT,),
    check=check,
    events=IMC_FAILURES + LOGONS + SCM_FAILURES,
    advice=advice,
    rank=70,
    registry_keys=(IMC_PARAMETERS,),
    next_step="Check Mapisvc.inf and System32 rights, the private IS, CommonName/HomeDSA, Domain Admins membership, "
    "Mapi32.dll version; without the registry: send the SYSTEM hive.",
    fixtures=(
        Fixture("4018 + 4116, value absent", True, _IMS_FAIL, "absent", contains=("Mapisvc.inf",)),
        Fixture(
            "4018, HomeDSA missing",
            True,
            _IMS_FAIL,
            "absent",
            contains=("lacks HomeDSA", "check CommonName/HomeDSA"),
            keys={IMC_PARAMETERS: {"CommonName": "Internet Mail Connector (EXCH01)"}},
        ),
        Fixture(
            "4018, IMC Parameters key absent",
            True,
            _IMS_FAIL,
            "absent",
            contains=("CommonName and HomeDSA are missing",),
            keys={IMC_PARAMETERS: "absent"},
        ),
        Fixture(
            "4018, both present",
            True,
            _IMS_FAIL,
            "absent",
            contains=("present; not otherwise validated", "Mapisvc.inf"),
            keys={IMC_PARAMETERS: {"CommonName": "Internet Mail Connector (EXCH01)", "HomeDSA": "EXCH01"}},
        ),
        Fixture("4018, no registry", True, _IMS_FAIL, None, contains=("send the SYSTEM hive",)),
        Fixture("4018 with the IMS 1023", False, (*_IMS_FAIL, e1023(IMS_DN, seconds=-1)), (ADMIN_DN,)),
        Fixture(
            "4018 while the IS is down",
            False,
            (*_IMS_FAIL, scm(7024, "Microsoft Exchange Information Store", "4294966781", seconds=-30)),
            "absent",
        ),
    ),
)
