r"""Rules as data: YAML files in ``analyzer/rules/data`` evaluated by one small engine.

Why: most KB articles about these failures say "these events (+ this registry state) -> this cause".  Writing
each as a Python module repeats the same code; as data a support engineer can read, edit and self-test a
rule (``analyzer rules --test``) without touching the program.  The format is documented in
docs/rules.md.  A file is loaded with ``yaml.safe_load`` and validated; a broken file is reported by name
and skipped, never a traceback, and never costs the other rules.

Evaluation of one rule (``DataRule.check``):

1. ``match``: every entry must be met by at least one event (source + id, optional ``contains`` /
   ``regex`` on the insertion strings and description together, optional ``service`` / ``code`` for
   Service Control Manager events).  ``corroborate`` entries add evidence when they lie within the
   corroboration window of a matched event.
2. ``registry``: one predicate over a watched key -> holds / contradicted / unknown.  Holds: the finding
   is corroborated (event + registry).  Unknown (no export covers the key): the finding stands on the
   events and says which artefact would settle it ("send the SOFTWARE hive").  Contradicted: the rule
   does not fire, or fires at the ``contradicted`` level with its own text.
3. Without matching events a rule may fire on the registry alone (``registry_alone: LEVEL``).
"""

from __future__ import annotations

import ntpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from analyzer.dn import parse_dn
from analyzer.evidence import (
    SCM_FAILURE_IDS,
    SCM_SOURCE,
    CaseFacts,
    EventNeed,
    KeyState,
    TimeIndex,
)
from analyzer.model import EventType, EvidenceRef, Finding, Severity
from analyzer.rules._shipped import DOCS as SHIPPED
from analyzer.rules.factories import event
from analyzer.rules.logic import span
from analyzer.rules.records import Fixture, Rule
from analyzer.rules.shipped import key as shipped_key

LEVELS = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}
STATUSES = ("documented", "inferred")
TESTS = (
    "key_present",
    "key_absent",
    "value_absent",
    "value_equals",
    "value_not_matching",
    "value_outside_case_site",
    "paths_disagree",
)
HIVE_ADVICE = {
    "SOFTWARE": "send the SOFTWARE hive (%SystemRoot%\\System32\\config\\SOFTWARE, or a .reg export of {key})",
    "SYSTEM": "send the SYSTEM hive (or a .reg export of {key})",
}


class RuleFormatError(ValueError):
    """A data rule that cannot be used: ``str()`` names the file and the problem in one line."""


# --------------------------------------------------------------------------- the rule's parts


@dataclass(frozen=True)
class EventMatch:
    """One ``match``/``corroborate`` entry."""

    source: str
    ids: frozenset[int]
    contains: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None
    service: str | None = None  # Service Control Manager: the service key (e.g. MSExchangeMTA)
    code: int | None = None  # Service Control Manager: the error / service-specific code

    @property
    def scm(self) -> bool:
        return self.source.casefold() == SCM_SOURCE

    def need(self) -> EventNeed:
        """What the evidence extraction must keep for this entry: SCM events are parsed, others kept whole."""
        return EventNeed(self.source, self.ids, whole=not self.scm)

    def label(self) -> str:
        ids = "/".join(str(i) for i in sorted(self.ids))
        if self.scm:
            return (
                f"SCM {ids}"
                + (f" ({self.service})" if self.service else "")
                + (f" code {self.code}" if self.code is not None else "")
            )
        cond = f" with {' and '.join(repr(c) for c in self.contains)}" if self.contains else ""
        return f"{self.source} {ids}{cond}"

    def find(self, facts: CaseFacts) -> list[tuple[Any, EvidenceRef]]:
        """The matching events as (time, ref)."""
        out: list[tuple[Any, EvidenceRef]] = []
        if self.scm:
            for s in facts.evidence.services:
                if s.event_id not in self.ids or (
                    self.service and (s.service or "").casefold() != self.service.casefold()
                ):
                    continue
                blob = s.text + " " + (s.ref.text or "")
                if self.code is not None and s.code != self.code and str(self.code) not in blob:
                    continue
                if self._text_ok(blob):
                    out.append((s.time, s.ref))
            return out
        wanted = self.source.casefold()
        for e in facts.evidence.raw:
            if e.event_id in self.ids and e.source.strip().casefold() == wanted and self._text_ok(e.blob):
                out.append((e.time, e.ref))
        return out

    def _text_ok(self, blob: str) -> bool:
        folded = blob.casefold()
        if any(c.casefold() not in folded for c in self.contains):
            return False
        return self.regex is None or self.regex.search(blob) is not None


@dataclass(frozen=True)
class RegistryTest:
    """The ``registry`` predicate."""

    key: str
    test: str
    value: str | None = None
    equals: str | None = None
    pattern: re.Pattern[str] | None = None
    names: re.Pattern[str] | None = None
    missing: str = "unknown"  # value_outside_case_site / value_not_matching when no value: holds | unknown
    hive: str = "SYSTEM"
    contradicted: dict[str, str] | None = None  # {"level": ..., "explanation": ...}; None = do not fire
    registry_alone: str | None = None  # level when the predicate holds without matching events
    unknown: str = "fire"  # no export covers the key: "fire" on the events alone (saying what to send) or "drop"
    install: tuple[str, str] | None = None  # paths_disagree: (key, value) whose program path gives the install folder


@dataclass
class Outcome:
    """Result of the registry predicate: ``holds`` True / False / None (unknown) and a sentence."""

    holds: bool | None
    sentence: str
    refs: list[EvidenceRef] = field(default_factory=list)


def case_site_sources(
    facts: CaseFacts, exclude: tuple[str, str] | None = None
) -> dict[tuple[str, str], tuple[str, list[str]]]:
    """(org, site) casefolded -> (as written, where the case shows it) from every place that names one: the
    DNs of 1023/1009/1013 (and 1016 when it carries one) events, the Logon Only As entries, and any other
    value of a watched Exchange key holding a /o=…/ou=… DN (e.g. MSExchangeIMC\\Parameters\\SiteDN).
    ``exclude`` is the (key, value) under test, which must not confirm itself."""
    found: dict[tuple[str, str], tuple[str, list[str]]] = {}

    def add(text: str, source: str) -> None:
        dn = parse_dn(text)
        if dn is None or dn.org is None or dn.site is None:
            return
        pair = (dn.org.strip().casefold(), dn.site.strip().casefold())
        _written, sources = found.setdefault(pair, (f"/o={dn.org}/ou={dn.site}", []))
        if source not in sources:
            sources.append(source)

    for r in [*facts.evidence.refusals, *facts.evidence.logons]:
        for d in (r.dn_a, r.dn_b):
            if d:
                add(d, f"{r.event_id} events in {r.ref.path}")
    for d, ref in facts.evidence.other_dns:
        add(d, f"{ref.event_id} events in {ref.path}")
    for entry in facts.logon_only_as.entries:
        add(entry, f"Logon Only As entries ({facts.logon_only_as.source})")
    for state in facts.registry.keys.values():
        if not state.present or "\\services\\msexchange" not in (state.path or state.requested).casefold():
            continue
        for value in state.values.values():
            if (
                exclude
                and state.requested.casefold() == exclude[0].casefold()
                and value.name.casefold() == exclude[1].casefold()
            ):
                continue
            m = _ORG_SITE.search(_data_text(value.data))
            if m is not None:
                add(m.group(0), f"{state.path or state.requested}\\{value.name} ({state.source})")
    return found


def case_sites(facts: CaseFacts, exclude: tuple[str, str] | None = None) -> tuple[set[tuple[str, str]], list[str]]:
    """(org, site) pairs (casefolded) the case names (see ``case_site_sources``), and the same as written."""
    found = case_site_sources(facts, exclude)
    return set(found), [written for written, _ in found.values()]


_ORG_SITE = re.compile(r"(?i)/o=(?P<o>[^/]+)/ou=(?P<ou>[^/]+)")
_SERVER = re.compile(r"(?i)/cn=servers/cn=(?P<server>[^/]+)")


def _data_text(data: object) -> str:
    if isinstance(data, list):
        return " ".join(str(d) for d in data)
    if isinstance(data, bytes | bytearray):
        return bytes(data).decode("utf-16-le", errors="replace").rstrip("\0")
    return "" if data is None else str(data)


def evaluate(test: RegistryTest, facts: CaseFacts) -> Outcome:
    """Apply the predicate to the case's watched keys."""
    state: KeyState = facts.registry.key(test.key)
    shown = state.path or test.key
    if state.present is None:
        hive = test.hive.upper()
        if hive in facts.registry.hives:  # the hive was given: it just does not reach this key
            advice = f"the {hive} export(s) in the case do not hold it; send a .reg export of {test.key}"
        else:
            advice = HIVE_ADVICE.get(hive, "send an export of {key}").format(key=test.key)
        return Outcome(None, f"The case holds no registry export covering {test.key}: {advice} to settle it.")
    if test.test in ("key_present", "key_absent"):
        exists = state.present is True
        want = test.test == "key_present"
        word = "exists" if exists else "is absent"
        return Outcome(exists == want, f"{shown} {word} in {state.source}.", [state.ref()])
    if not state.present:
        return Outcome(None, f"{test.key} is absent in {state.source}, so its values cannot be checked.", [state.ref()])
    if test.test == "value_absent":
        assert test.value is not None
        v = state.value(test.value)
        if v is None:
            return Outcome(True, f"{shown} has no value {test.value!r} ({state.source}).", [state.ref(test.value)])
        return Outcome(False, f"{shown} holds {test.value} = {_data_text(v.data)!r}.", [state.ref(test.value)])
    if test.test == "value_equals":
        assert test.value is not None and test.equals is not None
        v = state.value(test.value)
        if v is None:
            return Outcome(False, f"{shown} has no value {test.value!r}.", [state.ref(test.value)])
        got = _data_text(v.data).strip()
        same = got.casefold() == test.equals.casefold()
        return Outcome(same, f"{shown} holds {test.value} = {got!r} ({state.source}).", [state.ref(test.value)])
    if test.test == "value_not_matching":
        return _not_matching(test, state, shown)
    if test.test == "paths_disagree":
        return _paths_disagree(test, state, shown, facts)
    return _outside_site(test, state, shown, facts)


def _not_matching(test: RegistryTest, state: KeyState, shown: str) -> Outcome:
    assert test.pattern is not None
    if test.value is not None:
        chosen = [v for v in [state.value(test.value)] if v is not None]
    else:
        assert test.names is not None
        chosen = [v for v in state.values.values() if test.names.search(v.name)]
    refs = [state.ref(v.name) for v in chosen] or [state.ref()]
    if not chosen:
        what = repr(test.value) if test.value else f"named like /{test.names.pattern if test.names else ''}/"
        sentence = f"{shown} ({state.source}) has no value {what}."
        return Outcome(True if test.missing == "holds" else None, sentence, refs)
    bad = [v for v in chosen if not test.pattern.fullmatch(_data_text(v.data).strip())]
    listed = "; ".join(f"{v.name} = {_data_text(v.data)!r}" for v in chosen)
    if bad:
        names = ", ".join(v.name for v in bad)
        return Outcome(True, f"{shown} ({state.source}): {listed} — not well-formed: {names}.", refs)
    return Outcome(False, f"{shown} ({state.source}): {listed} — well-formed.", refs)


def install_folder(program: str) -> str | None:
    """The Exchange folder from a service's program path: ``C:\\exchsrvr\\bin\\emsmta.exe`` -> ``C:\\exchsrvr``
    (the folder above ``bin``; (inferred) from how Exchange 4.0-5.5 lays out its files)."""
    text = program.strip().strip('"')
    m = re.match(r'(?i)^"?([A-Za-z]:\\[^"]*?\.exe)\b', text)
    if m is None:
        return None
    folder = ntpath.dirname(m.group(1))
    if ntpath.basename(folder).casefold() == "bin":
        folder = ntpath.dirname(folder)
    return folder.rstrip("\\") or None


def _norm_path(path: str) -> str:
    return path.strip().rstrip("\\").casefold()


def _paths_disagree(test: RegistryTest, state: KeyState, shown: str, facts: CaseFacts) -> Outcome:
    """The path values named by the test: each well-formed, all naming the same folder, and inside the
    install folder when the case shows it.  Holds (a problem) when any of that fails; the sentence names it."""
    outcome = _not_matching(test, state, shown)
    if outcome.holds is not False:
        return outcome  # missing or not well-formed values: already the problem
    assert test.names is not None or test.value is not None
    chosen = [v for v in state.values.values() if (test.names.search(v.name) if test.names else v.name == test.value)]
    paths = {v.name: _data_text(v.data).strip() for v in chosen}
    refs = list(outcome.refs)
    problems: list[str] = []
    if len({_norm_path(p) for p in paths.values()}) > 1:
        problems.append(
            "the values name different folders (" + "; ".join(f"{k} = '{v}'" for k, v in paths.items()) + ")"
        )
    where = ""
    if test.install is not None:
        key, value = test.install
        other = facts.registry.key(key)
        program = other.value(value) if other.present else None
        folder = install_folder(_data_text(program.data)) if program is not None else None
        if folder is not None:
            refs.append(other.ref(value))
            where = f" and inside the Exchange folder {folder} ({other.path or key}\\{value}, {other.source})"
            outside = [k for k, v in paths.items() if not _norm_path(v).startswith(_norm_path(folder) + "\\")]
            if outside:
                problems.append(
                    f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} outside the Exchange folder {folder} "
                    f"that {other.path or key}\\{value} shows ({other.source})"
                )
    listed = "; ".join(f"{k} = '{v}'" for k, v in paths.items())
    if problems:
        return Outcome(True, f"{shown} ({state.source}): {'; '.join(problems)}.", refs)
    return Outcome(False, f"{shown} ({state.source}): {listed} — well-formed, the same folder{where}.", refs)


def _outside_site(test: RegistryTest, state: KeyState, shown: str, facts: CaseFacts) -> Outcome:
    assert test.value is not None
    v = state.value(test.value)
    refs = [state.ref(test.value)]
    if v is None:
        sentence = f"{shown} ({state.source}) has no value {test.value!r}."
        return Outcome(True if test.missing == "holds" else None, sentence, refs)
    data = _data_text(v.data).strip()
    m = _ORG_SITE.search(data)
    if m is None:
        return Outcome(
            None,
            f"{test.value} = {data!r} holds no /o=…/ou=… prefix the analyzer can compare (the value format is "
            "unverified); compare it by hand with the org and site of the directory.",
            refs,
        )
    sources = case_site_sources(facts, (test.key, test.value))
    org, site = m.group("o").strip(), m.group("ou").strip()
    server_m = _SERVER.search(data)
    computers = {e.computer.casefold() for e in facts.evidence.raw if e.computer} | {
        r.computer.casefold() for r in facts.evidence.refusals if r.computer
    }
    if server_m is not None and computers and server_m.group("server").strip().casefold() not in computers:
        return Outcome(
            True,
            f"{test.value} = {data!r} names server {server_m.group('server')!r}, but the events were logged by "
            f"{', '.join(sorted(computers))}.",
            refs,
        )
    if not sources:
        return Outcome(
            None,
            f"{test.value} = {data!r}; no DN in the logs, in Logon Only As or in another Exchange key shows the org "
            "and site to compare it with (send the Application log with 1023/1009 events, or compare by hand with "
            "Obj-Dist-Name).",
            refs,
        )
    same = sources.get((org.casefold(), site.casefold()))
    if same is not None:
        return Outcome(False, f"{test.value} = {data!r} matches the org/site that {'; '.join(same[1])} show.", refs)
    shown_sources = "; ".join(f"{written} (from {', '.join(where)})" for written, where in sources.values())
    return Outcome(True, f"{test.value} = {data!r} names /o={org}/ou={site}, but the case shows {shown_sources}.", refs)


# --------------------------------------------------------------------------- the rule


@dataclass
class DataRule:
    """A loaded YAML rule; ``rule`` is the ``Rule`` record the rest of the program uses."""

    id: str
    title: str
    verdict: str
    level: Severity
    references: tuple[str, ...]
    component: str | None
    explanation: str
    next_step: str
    assumptions: tuple[str, ...]
    match: tuple[EventMatch, ...]
    corroborate: tuple[EventMatch, ...]
    registry: RegistryTest | None
    match_any: tuple[EventMatch, ...] = ()  # at least one of these must be met too (a symptom's several forms)

    def check(self, facts: CaseFacts) -> list[Finding]:
        matched: list[tuple[Any, EvidenceRef]] = []
        for m in self.match:
            found = m.find(facts)
            if not found:
                matched = []
                break
            matched.extend(found)
        else:
            if self.match_any:
                forms = [hit for m in self.match_any for hit in m.find(facts)]
                matched = matched + forms if forms else []
        outcome = evaluate(self.registry, facts) if self.registry is not None else None
        level = self.level
        text = self.explanation
        if not matched:
            if not (self.registry and self.registry.registry_alone and outcome and outcome.holds):
                return []
            level = LEVELS[self.registry.registry_alone]
            labels = [m.label() for m in self.match] + (
                ["any of " + " / ".join(m.label() for m in self.match_any)] if self.match_any else []
            )
            seen = "No event of the failure was found (" + ", ".join(labels) + ")"
            lead = f"{seen}; the registry alone shows the problem."
        else:
            lead = self._events_sentence(matched)
        if outcome is not None and outcome.holds is None and self.registry and self.registry.unknown == "drop":
            return []
        if outcome is not None and outcome.holds is False:
            alt = self.registry.contradicted if self.registry else None
            if not alt:
                return []
            level = LEVELS[alt["level"]]
            text = alt["explanation"]
        times = [t for t, _ in matched]
        near, shown = TimeIndex(times).near, {r for _, r in matched}
        extra = [ref for c in self.corroborate for t, ref in c.find(facts) if near(t) and ref not in shown]
        parts = [lead]
        if extra:
            parts.append("Corroborated by " + ", ".join(dict.fromkeys(_ref_label(r) for r in extra)) + ".")
        if outcome is not None:
            parts.append(outcome.sentence)
        parts.append(text.strip())
        if self.next_step:
            parts.append("Next step: " + self.next_step.strip())
        first, last = span(times)
        return [
            Finding(
                rule=self.id,
                severity=level,
                title=self.verdict,
                explanation=" ".join(p for p in parts if p),
                component=self.component,
                count=len(matched),
                first_seen=first,
                last_seen=last,
                evidence=tuple(r for _, r in matched) + tuple(extra) + tuple(outcome.refs if outcome else ()),
                references=self.references,
                assumptions=self.assumptions,
            )
        ]

    def _events_sentence(self, matched: list[tuple[Any, EvidenceRef]]) -> str:
        counts: dict[str, int] = {}
        for _, ref in matched:
            label = _ref_label(ref)
            counts[label] = counts.get(label, 0) + 1
        listed = ", ".join(f"{label} ({n}×)" if n > 1 else label for label, n in counts.items())
        return f"Logged: {listed}."


def _ref_label(ref: EvidenceRef) -> str:
    source = "SCM" if (ref.source or "").casefold() == SCM_SOURCE else ref.source
    return f"{source} {ref.event_id}"


# --------------------------------------------------------------------------- loading


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _str_tuple(doc: dict[str, Any], name: str, where: str) -> tuple[str, ...]:
    items = _as_list(doc.get(name))
    if not all(isinstance(i, str) for i in items):
        raise RuleFormatError(f"{where}: {name} must be a list of strings")
    return tuple(i.strip() for i in items)


def _regex(text: object, where: str) -> re.Pattern[str] | None:
    if text is None:
        return None
    try:
        return re.compile(str(text), re.IGNORECASE)
    except re.error as exc:
        raise RuleFormatError(f"{where}: bad regex {text!r} ({exc})") from None


def _event_match(doc: object, where: str) -> EventMatch:
    if not isinstance(doc, dict) or "source" not in doc or "id" not in doc:
        raise RuleFormatError(f"{where}: each match entry needs source and id")
    unknown = set(doc) - {"source", "id", "contains", "regex", "service", "code"}
    if unknown:
        raise RuleFormatError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        ids = frozenset(int(i) & 0xFFFF for i in _as_list(doc["id"]))
    except (TypeError, ValueError):
        raise RuleFormatError(f"{where}: id must be an event number or a list of them") from None
    source = str(doc["source"]).strip()
    folded = source.casefold()
    if not ids or (folded == SCM_SOURCE and not ids <= SCM_FAILURE_IDS):
        raise RuleFormatError(
            f"{where}: {source} {sorted(ids)}: Service Control Manager events are matched through the SCM parser, "
            "which keeps the failures 7000/7001/7023/7024/7031 only"
        )
    code = doc.get("code")
    contains = _as_list(doc.get("contains"))
    if not all(isinstance(c, str) for c in contains):
        # YAML reads 0xc00206b7 or -1008 unquoted as a number: the text searched for would be wrong.
        raise RuleFormatError(f"{where}: contains must be text; quote codes such as '0xc00206b7'")
    return EventMatch(
        source,
        ids,
        tuple(contains),
        _regex(doc.get("regex"), where),
        str(doc["service"]) if doc.get("service") else None,
        int(code) if code is not None else None,
    )


def _registry_test(doc: object, where: str) -> RegistryTest:
    if not isinstance(doc, dict) or "key" not in doc or "test" not in doc:
        raise RuleFormatError(f"{where}: registry needs key and test")
    test = str(doc["test"])
    if test not in TESTS:
        raise RuleFormatError(f"{where}: registry test {test!r} is not one of {', '.join(TESTS)}")
    if test in ("value_absent", "value_equals", "value_outside_case_site") and not doc.get("value"):
        raise RuleFormatError(f"{where}: registry test {test} needs value")
    if test == "value_equals" and doc.get("equals") is None:
        raise RuleFormatError(f"{where}: registry test value_equals needs equals")
    if test in ("value_not_matching", "paths_disagree") and (
        not doc.get("pattern") or not (doc.get("value") or doc.get("names"))
    ):
        raise RuleFormatError(f"{where}: registry test {test} needs pattern and value or names")
    install = doc.get("install")
    if install is not None and not (isinstance(install, dict) and install.get("key") and install.get("value")):
        raise RuleFormatError(f"{where}: install needs key and value")
    contradicted = doc.get("contradicted")
    if contradicted is not None and (
        not isinstance(contradicted, dict)
        or contradicted.get("level") not in LEVELS
        or not isinstance(contradicted.get("explanation"), str)
    ):
        raise RuleFormatError(f"{where}: contradicted needs level (error|warning|info) and explanation")
    alone = doc.get("registry_alone")
    if alone is not None and alone not in LEVELS:
        raise RuleFormatError(f"{where}: registry_alone must be error, warning or info")
    missing = str(doc.get("missing", "unknown"))
    if missing not in ("holds", "unknown"):
        raise RuleFormatError(f"{where}: missing must be holds or unknown")
    unknown = str(doc.get("unknown", "fire"))
    if unknown not in ("fire", "drop"):
        raise RuleFormatError(f"{where}: unknown must be fire or drop")
    return RegistryTest(
        key=str(doc["key"]),
        test=test,
        value=str(doc["value"]) if doc.get("value") else None,
        equals=str(doc["equals"]) if doc.get("equals") is not None else None,
        pattern=_regex(doc.get("pattern"), where),
        names=_regex(doc.get("names"), where),
        missing=missing,
        hive=str(doc.get("hive", "SYSTEM")),
        contradicted=dict(contradicted) if contradicted else None,
        registry_alone=alone,
        unknown=unknown,
        install=(str(install["key"]), str(install["value"])) if install else None,
    )


_EVENT_FIELDS = {"source", "id", "strings", "type", "seconds", "computer", "path"}


def _fixture(doc: object, where: str) -> Fixture:
    if not isinstance(doc, dict) or "name" not in doc or "fires" not in doc:
        raise RuleFormatError(f"{where}: each fixture needs name and fires")
    name = f"{where} fixture {doc['name']!r}"
    events = []
    for e in _as_list(doc.get("events")):
        if not isinstance(e, dict) or "source" not in e or "id" not in e or set(e) - _EVENT_FIELDS:
            raise RuleFormatError(f"{name}: events need source and id (fields: {', '.join(sorted(_EVENT_FIELDS))})")
        source = str(e["source"])
        kw: dict[str, Any] = {
            "type": EventType.parse(str(e.get("type", "error"))),
            "seconds": float(e.get("seconds", 0)),
            "computer": str(e.get("computer", "EXCH01")),
        }
        if "path" in e or source.casefold() == SCM_SOURCE:
            kw["path"] = str(e.get("path", "SysEvent.Evt"))
        events.append(event(int(e["id"]), source, tuple(str(s) for s in _as_list(e.get("strings"))), **kw))
    loa = doc.get("logon_only_as")
    registry: tuple[str, ...] | str | None = tuple(loa) if isinstance(loa, list) else loa
    keys = doc.get("keys") or {}
    if not isinstance(keys, dict):
        raise RuleFormatError(f"{name}: keys must map a key path to values or 'absent'")
    severity = doc.get("severity")
    if severity is not None and severity not in LEVELS:
        raise RuleFormatError(f"{name}: severity must be error, warning or info")
    return Fixture(
        name=str(doc["name"]),
        fires=bool(doc["fires"]),
        events=tuple(events),
        registry=registry,
        contains=tuple(str(c) for c in _as_list(doc.get("contains"))),
        keys=keys,
        severity=severity,
    )


_TOP_FIELDS = {
    "id", "title", "status", "level", "references", "falsepositives", "assumptions", "component", "diagnoses",
    "match", "match_any", "corroborate", "registry", "verdict", "explanation", "next_step", "fixtures",
}  # fmt: skip


def parse_rule(doc: object, where: str) -> Rule:
    """A ``Rule`` from one parsed YAML document (``where`` names the file in errors)."""
    if not isinstance(doc, dict):
        raise RuleFormatError(f"{where}: a rule file holds one mapping (id, title, match, ...)")
    unknown = set(doc) - _TOP_FIELDS
    if unknown:
        raise RuleFormatError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for required in ("id", "title", "status", "level", "references", "match", "explanation", "fixtures"):
        if required not in doc:
            raise RuleFormatError(f"{where}: missing {required}")
    if doc["status"] not in STATUSES:
        raise RuleFormatError(f"{where}: status must be documented or inferred")
    if doc["level"] not in LEVELS:
        raise RuleFormatError(f"{where}: level must be error, warning or info")
    references = _str_tuple(doc, "references", where)
    if not references or not all(r.startswith("KB") and r[2:].isdigit() for r in references):
        raise RuleFormatError(f"{where}: references must be KB numbers such as KB267573")
    match = tuple(_event_match(m, f"{where} match") for m in _as_list(doc["match"]))
    match_any = tuple(_event_match(m, f"{where} match_any") for m in _as_list(doc.get("match_any")))
    corroborate = tuple(_event_match(m, f"{where} corroborate") for m in _as_list(doc.get("corroborate")))
    registry = _registry_test(doc["registry"], where) if doc.get("registry") is not None else None
    if not match and not match_any and not (registry and registry.registry_alone):
        raise RuleFormatError(f"{where}: a rule needs match events or a registry test with registry_alone")
    assumptions = _str_tuple(doc, "assumptions", where)
    data = DataRule(
        id=str(doc["id"]),
        title=str(doc["title"]),
        verdict=str(doc.get("verdict") or doc["title"]),
        level=LEVELS[doc["level"]],
        references=references,
        component=str(doc["component"]) if doc.get("component") else None,
        explanation=str(doc["explanation"]),
        next_step=str(doc.get("next_step") or ""),
        assumptions=assumptions,
        match=match,
        corroborate=corroborate,
        registry=registry,
        match_any=match_any,
    )
    fixtures = tuple(_fixture(f, where) for f in _as_list(doc["fixtures"]))
    diagnoses = str(doc.get("diagnoses") or " + ".join(m.label() for m in (*match, *match_any)))
    return Rule(
        id=data.id,
        title=data.title,
        references=references,
        status=str(doc["status"]),
        level=str(doc["level"]),
        diagnoses=diagnoses,
        assumptions=assumptions,
        check=data.check,
        fixtures=fixtures,
        registry_keys=((registry.key, *((registry.install[0],) if registry.install else ())) if registry else ()),
        falsepositives=_str_tuple(doc, "falsepositives", where),
        next_step=data.next_step,
        kind="data",
        origin=where,
        events=tuple(m.need() for m in (*match, *match_any, *corroborate)),
        advice=next_step_advice,
    )


def next_step_advice(finding: Finding) -> str:
    """The verdict repeats the "Next step: …" sentence a data rule ends its explanation with."""
    _, sep, step = finding.explanation.rpartition("Next step: ")
    return f" Next step: {step}" if sep else ""


def _safe_load(yaml: ModuleType, text: str) -> Any:
    """``yaml.safe_load`` through libyaml's C loader when present (10x faster: start-up cost of every
    command and triage worker); a document it refuses is parsed again by the pure-Python loader, so
    the error (line, problem) reads the same with or without libyaml."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            return yaml.load(text, Loader=loader)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def _parse_yaml(text: str, where: str) -> Any:
    try:  # imported here: the shipped rules come parsed (``analyzer.rules.shipped``), so most runs never need it
        import yaml
    except ImportError:  # a broken install must not cost the Python rules: each data rule file says why it is skipped
        raise RuleFormatError(f"{where}: PyYAML is not installed (pip install PyYAML): data rule skipped") from None
    try:
        return _safe_load(yaml, text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise RuleFormatError(f"{where}:{at} not valid YAML ({getattr(exc, 'problem', None) or exc})") from None


def load_text(text: str, where: str) -> Rule:
    """One data rule from its YAML text (``where`` names it in errors).

    The text of a shipped rule file is not parsed again: its document comes from ``_shipped`` (parsed
    ahead by the same loader, and pinned equal to it by a test)."""
    doc = SHIPPED.get(shipped_key(text))
    if doc is None:
        doc = _parse_yaml(text, where)
    try:
        return parse_rule(doc, where)
    except RuleFormatError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise RuleFormatError(f"{where}: {type(exc).__name__}: {exc}") from None


def load_file(path: Path, where: str) -> Rule:
    """One data rule file (``where`` names it in messages); RuleFormatError when it cannot be used."""
    try:
        return load_text(path.read_text(encoding="utf-8"), where)
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFormatError(f"{where}: cannot read ({exc})") from None
