"""The records of the knowledge: a ``Rule`` (everything about one rule) and its ``Fixture`` self-tests.

A rule is metadata plus a pure function ``(CaseFacts) -> list[Finding]``, and it carries everything
else the program needs to know about it, so that adding a rule is adding one file: the events it reads
(``events``: the pushdown filter and the whole-kept events are derived from them), the registry keys it
reads (``registry_keys``: snapshotted from every export), its sentence for the verdict (``advice``),
its explanation of a look-alike 1023 (``explains``, used when Logon Only As cannot be the cause), and
its fixtures.  Fixtures are data (events, the ``Logon Only As`` state, the expected outcome) so that
``analyzer rules --test`` and the test suite run the same checks, and ``analyzer rules --show ID`` can
print them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from analyzer.evidence import CaseFacts, EventNeed
from analyzer.model import Event, EvidenceRef, Finding
from analyzer.rules.factories import event_line, fixture_facts

if TYPE_CHECKING:
    from analyzer.rules.logic import RefusalGroup

#: (facts, one group of refusals) -> (sentence naming the documented cause, extra evidence) or None
Explainer = Callable[[CaseFacts, "RefusalGroup"], tuple[str, tuple[EvidenceRef, ...]] | None]
#: finding -> the sentence the verdict appends after the finding's title ("" for none)
Advice = Callable[[Finding], str]


@dataclass(frozen=True)
class Fixture:
    """One self-test of a rule.

    ``registry``: None = no registry export (state unknown), "absent", "empty", or the list entries.
    ``keys``: other registry keys: path -> {value name: data} (key present) or "absent" (the export
    holds the parent but not the key); keys not named are not covered by the case.
    ``fires``: whether the rule must produce a finding; ``dns``: the DNs it must put in dns_to_add
    (exactly); ``replaces``: the near-miss entry it must name; ``contains``: words the explanation of
    some finding must contain; ``severity``: the severity the finding must have, when given.
    """

    name: str
    fires: bool
    events: tuple[Event, ...]
    registry: tuple[str, ...] | str | None
    dns: tuple[str, ...] = ()
    replaces: str | None = None
    contains: tuple[str, ...] = ()
    last_write: datetime | None = None
    enable_tracing: bool = False
    keys: Mapping[str, Mapping[str, Any] | str] | None = None
    severity: str | None = None

    def facts(self, watched: Mapping[str, frozenset[int]] | None = None) -> CaseFacts:
        """The case this fixture describes; ``watched``: events kept whole (see ``Evidence.watched``)."""
        return fixture_facts(
            self.events, self.registry, self.keys or {}, self.last_write, self.enable_tracing, watched or {}
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "fires": self.fires,
            "registry": self.registry if isinstance(self.registry, str | None) else list(self.registry),
            "keys": {k: (v if isinstance(v, str) else dict(v)) for k, v in (self.keys or {}).items()},
            "events": [event_line(e) for e in self.events],
            "dns": list(self.dns),
            "replaces": self.replaces,
            "severity": self.severity,
            "contains": list(self.contains),
        }


@dataclass(frozen=True)
class Rule:
    """Metadata + check + fixtures + what the program derives from a rule.

    ``status``: documented (a KB says so) or inferred.  ``rank`` orders ``analyzer rules`` and breaks
    ties between findings of equal strength (lower first; data rules follow by file name)."""

    id: str
    title: str
    references: tuple[str, ...]
    status: str
    level: str
    diagnoses: str
    assumptions: tuple[str, ...]
    check: Callable[[CaseFacts], list[Finding]]
    fixtures: tuple[Fixture, ...] = field(default=())
    #: registry keys beyond Logon Only As that the rule reads (snapshotted from every export of a case)
    registry_keys: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    next_step: str = ""
    kind: str = "python"  # "python" (a module) or "data" (a YAML file evaluated by rules.engine)
    origin: str = ""  # module or data file it comes from
    #: the events the rule reads (``analyzer.evidence`` names the typed ones)
    events: tuple[EventNeed, ...] = ()
    #: what the verdict says after the title of one of this rule's error findings
    advice: Advice | None = None
    #: for look-alike rules: does a group of refusals fit this documented cause, and why
    explains: Explainer | None = None
    rank: int = 1000

    def to_dict(self, fixtures: bool = False) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "title": self.title,
            "references": list(self.references),
            "status": self.status,
            "level": self.level,
            "diagnoses": self.diagnoses,
            "assumptions": list(self.assumptions),
            "falsepositives": list(self.falsepositives),
            "registry_keys": list(self.registry_keys),
            "next_step": self.next_step,
            "kind": self.kind,
            "origin": self.origin,
        }
        if fixtures:
            out["fixtures"] = [f.to_dict() for f in self.fixtures]
        return out
