"""The result model of one case: ``Diagnosis`` and its JSON contract (``analyzer.diagnosis/1``).

The contract dict (``to_dict``) is what every renderer, triage and the JSON Schema in
``analyzer/schema/diagnosis.schema.json`` work on; the dataclass adds the notebook conveniences.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from analyzer.evidence import LogonOnlyAs
from analyzer.model import Finding
from analyzer.remedy import Remediation

if TYPE_CHECKING:
    import pandas as pd

SCHEMA = "analyzer.diagnosis/1"

FINDING_COLUMNS = [
    "rule", "severity", "title", "component", "dn", "account", "count", "first_seen", "last_seen",
    "add_dn", "replaces", "references", "explanation",
]  # fmt: skip


@dataclass
class Diagnosis:
    """The result for one case (JSON via ``to_dict``/``to_json``; schema ``analyzer/schema``)."""

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
    unconfirmed: list[dict[str, Any]] = field(default_factory=list)  # refusals without a safely read DN
    advice: list[Finding] = field(default_factory=list)  # true of every case with the value set (not findings)
    #: one entry per server when the case holds several (``diagnosis.per_server``); empty for one server
    servers: list[Any] = field(default_factory=list)
    #: groups of inputs that look like separate cases (``analyzer.many_cases``); not part of the JSON
    separate_cases: list[Any] = field(default_factory=list, repr=False)
    #: every server the case's content names (computer names of events, ComputerName keys, MPS Reports
    #: prefixes: ``analyzer.servers``), also for a case of one server; not part of the JSON
    server_names: list[str] = field(default_factory=list, repr=False)

    @property
    def findings(self) -> pd.DataFrame:
        """One row per finding (columns ``FINDING_COLUMNS``)."""
        import pandas as pd  # lazy: pandas costs about a second to import and only notebooks need it here

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
        out = {
            "schema": SCHEMA,
            "case": self.case,
            "verdict": self.verdict,
            "needs_action": self.needs_action,
            "inputs": [input_dict(i) for i in self.inputs],
            "logon_only_as": self.logon_only_as.to_dict(),
            "findings": [f.to_dict() for f in self.finding_list],
            "dns_to_add": list(self.dns_to_add),
            "unconfirmed": [dict(u) for u in self.unconfirmed],
            "advice": [
                {"rule": a.rule, "title": a.title, "text": a.explanation, "references": list(a.references)}
                for a in self.advice
            ],
            "remediation": self.remediation.to_dict() if self.remediation is not None else None,
            "warnings": list(self.warnings),
        }
        if self.servers:  # several servers: each finding names its server, and one entry per server
            out["findings"] = [
                {**f.to_dict(), "server": s.server} for s in self.servers for f in s.diagnosis.finding_list
            ]
            out["servers"] = [s.to_dict() for s in self.servers]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    # The renderers load when a rendering is asked for: a diagnosis read as a dict or JSON (the API,
    # triage, --format json) never pays for them.
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


def input_dict(i: Any) -> dict[str, Any]:
    """The contract dict of one ``case.CaseInput``."""
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
