"""KB 262225: ExMerge cannot list mailboxes while Logon Only As exists (Exchange 5.5)."""

from __future__ import annotations

from analyzer.evidence import CaseFacts
from analyzer.model import EvidenceRef, Finding, FindingKind, Severity
from analyzer.rules.factories import ADMIN_DN, sa_dn
from analyzer.rules.records import Fixture, Rule

ID = "KB262225"


def check(facts: CaseFacts) -> list[Finding]:
    loa = facts.logon_only_as
    if loa.state not in ("set", "empty"):
        return []
    return [
        Finding(
            rule=ID,
            severity=Severity.INFO,
            title="ExMerge cannot run while Logon Only As exists",
            explanation=(
                "While Logon Only As exists (even listing the site service account) ExMerge reports that the IS is "
                "not accessible (KB 262225). To run ExMerge, delete the value and restart the IS; to keep users "
                "out meanwhile, disconnect the server from the network instead."
            ),
            evidence=(EvidenceRef(path=loa.source or "registry", key=loa.key, value="Logon Only As"),),
            references=(ID, "KB146764"),
            kind=FindingKind.ADVICE,
        )
    ]


RULE = Rule(
    id=ID,
    title="ExMerge limitation while logons are limited",
    references=(ID,),
    status="documented",
    level="info",
    diagnoses="Logon Only As exists (set or blank): ExMerge cannot be used.",
    assumptions=(),
    check=check,
    rank=150,
    fixtures=(
        Fixture("value set", True, (), (sa_dn(1), ADMIN_DN), contains=("ExMerge",)),
        Fixture("value blank", True, (), "empty"),
        Fixture("value absent", False, (), "absent"),
        Fixture("unknown", False, (), None),
    ),
)
