r"""LOA-UNKNOWN: logs show refusals but no registry export tells what Logon Only As holds.

The diagnosis cannot say which DN to add without the list; it lists the refused component DNs and
says exactly what to collect, for Windows NT 4.0 and Windows 2000.
"""

from __future__ import annotations

from analyzer.evidence import LOGONS, PARAMETERS_SYSTEM, CaseFacts
from analyzer.model import Finding, FindingKind, Severity
from analyzer.rules.factories import IMS_DN, e1023, user_dn
from analyzer.rules.logic import by_dn_a, refusal_groups, span
from analyzer.rules.records import Fixture, Rule

ID = "LOA-UNKNOWN"
FULL_KEY = PARAMETERS_SYSTEM.replace("HKLM\\", "HKEY_LOCAL_MACHINE\\")
COLLECT = (
    f"Collect the key {FULL_KEY} from the Exchange server. Windows NT 4.0: "
    f'regedit /e is-params.reg "{FULL_KEY}" (a REGEDIT4 file), or in Regedt32 select the key and use '
    "Registry > Save Subtree As (text) or Save Key (hive). Windows 2000: the same regedit /e command (a version "
    f'5.00 file), or reg query "{PARAMETERS_SYSTEM}" from the Support Tools. An offline copy of '
    "%SystemRoot%\\System32\\Config\\SYSTEM works too."
)


def check(facts: CaseFacts) -> list[Finding]:
    if facts.logon_only_as.state != "unknown":
        return []
    groups = refusal_groups(facts)
    if not groups:
        return []
    components = [gs[0] for gs in by_dn_a(groups).values() if gs[0].info.is_component]
    events = [e for g in groups for e in g.events]
    first, last = span(e.time for e in events)
    if components:
        listing = "; ".join(f"{g.info.label}: {g.dn_a}" for g in components)
        text = (
            f"The IS refused these Exchange components (1023): {listing}. Whether Logon Only As is the cause "
            "depends on its value, which no registry export in the case shows: if it exists and lacks these DNs, "
            "add them exactly as written (KB 306308, 218920, 199954). " + COLLECT
        )
        return [
            Finding(
                rule=ID,
                severity=Severity.WARNING,
                title="Registry export needed: refused components cannot be checked against Logon Only As",
                explanation=text,
                dn=components[0].dn_a if len(components) == 1 else None,
                component=components[0].info.label if len(components) == 1 else None,
                count=len(events),
                first_seen=first,
                last_seen=last,
                evidence=tuple(e.ref for e in events),
                references=("KB146764", "KB306308"),
                kind=FindingKind.REGISTRY_NEEDED,
            )
        ]
    return [
        Finding(
            rule=ID,
            severity=Severity.INFO,
            title="Registry export needed to tell a lock-out from another cause",
            explanation=(
                f"{len(events)} mailbox logon(s) were refused (1023). With Logon Only As set this is the restriction "
                "working; without it the cause is elsewhere. " + COLLECT
            ),
            count=len(events),
            first_seen=first,
            last_seen=last,
            evidence=tuple(e.ref for e in events),
            references=("KB146764",),
            kind=FindingKind.REGISTRY_NEEDED,
        )
    ]


RULE = Rule(
    id=ID,
    title="Logs without a registry export: what to collect",
    references=("KB146764", "KB306308"),
    status="documented",
    level="warning",
    diagnoses="1023 refusals and no export of ...\\MSExchangeIS\\ParametersSystem in the case.",
    assumptions=(),
    check=check,
    events=LOGONS,
    rank=80,
    fixtures=(
        Fixture("IMS refused, no registry", True, (e1023(IMS_DN),), None, contains=("regedit /e", "reg query")),
        Fixture("mailbox refused, no registry", True, (e1023(user_dn("jdoe")),), None),
        Fixture("registry present", False, (e1023(IMS_DN),), "absent"),
    ),
)
