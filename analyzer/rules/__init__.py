"""The knowledge: every rule of the analyzer, found by looking at the rule directories.

A rule is one file: a Python module in ``analyzer/rules/`` that defines ``RULE`` (or ``RULES``, for a
table of rules such as the look-alikes), or a YAML data rule in ``analyzer/rules/data/`` (format:
docs/rules.md, evaluated by ``analyzer.rules.engine``).  Everything the program needs to know about a
rule comes from the rule itself (``analyzer.rules.records.Rule``): this module only finds and loads
the rules, and derives from them what the rest of the program must read — the registry keys to
snapshot (``watched_keys``), the event IDs the readers must keep (``evidence_filter``) and the events
kept whole for the data rules (``watched_events``).

Running the rules is ``analyzer.rules.run``; the fixture self-test ``analyzer.rules.selftest``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from analyzer.evidence import evidence_filter as _filter_of
from analyzer.evidence import watched_of
from analyzer.model import EventFilter
from analyzer.rules.engine import RuleFormatError, load_file
from analyzer.rules.records import Rule

PACKAGE_DIR = Path(__file__).resolve().parent
#: Where rules are found, in this order: Python rule modules, then the YAML data rules.
RULE_DIRS: tuple[Path, ...] = (PACKAGE_DIR, PACKAGE_DIR / "data")

# A module is a rule file when it assigns RULE or RULES at top level (looked for before importing it,
# so that the framework modules beside the rules are not imported for nothing).
_DEFINES_RULES = re.compile(r"^RULES?\s*[:=]", re.MULTILINE)


def _display(path: Path) -> str:
    """How a rule file is named in messages: relative to the package for shipped rules."""
    try:
        return path.relative_to(PACKAGE_DIR.parent.parent).as_posix()
    except ValueError:
        return str(path)


def _module(path: Path) -> ModuleType:
    if path.parent == PACKAGE_DIR:
        return importlib.import_module(f"analyzer.rules.{path.stem}")
    digest = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(f"analyzer_rule_{digest}_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rules_in(directory: Path, errors: list[str]) -> list[Rule]:
    """The rules of one directory (files sorted by name); a file that cannot be loaded goes to ``errors``."""
    found: list[Rule] = []
    if not directory.is_dir():
        return found
    for path in sorted(directory.iterdir(), key=lambda p: p.name):
        where = _display(path)
        if path.suffix in (".yaml", ".yml"):
            try:
                found.append(load_file(path, where))
            except RuleFormatError as exc:
                errors.append(str(exc))
        elif path.suffix == ".py" and not path.name.startswith("_"):
            try:
                if not _DEFINES_RULES.search(path.read_text(encoding="utf-8")):
                    continue
                module = _module(path)
            except Exception as exc:  # a broken rule file costs only itself
                errors.append(f"{where}: cannot load ({type(exc).__name__}: {exc})")
                continue
            rules = getattr(module, "RULES", None) or (module.RULE,)
            found.extend(rules)
    return found


def _order(rule: Rule) -> tuple[int, bool, str]:
    return (rule.rank, rule.kind == "data", rule.origin)


@functools.cache
def _loaded() -> tuple[tuple[Rule, ...], tuple[str, ...]]:
    """Every rule of ``RULE_DIRS`` in display order, and the load errors of broken files."""
    errors: list[str] = []
    rules = sorted((r for d in RULE_DIRS for r in rules_in(d, errors)), key=_order)
    seen: set[str] = set()
    unique = []
    for rule in rules:
        if rule.id.casefold() in seen:
            errors.append(f"{rule.origin or rule.id}: rule id {rule.id} is already used; this copy was skipped")
            continue
        seen.add(rule.id.casefold())
        unique.append(rule)
    return tuple(unique), tuple(errors)


def reload() -> None:
    """Forget the loaded rules (after ``RULE_DIRS`` or a rule file changed)."""
    _loaded.cache_clear()


def all_rules() -> list[Rule]:
    return list(_loaded()[0])


def load_errors() -> list[str]:
    """One line per rule file that could not be loaded (it is skipped, the others still run)."""
    return list(_loaded()[1])


def get_rule(rule_id: str) -> Rule | None:
    wanted = rule_id.strip().casefold().replace(" ", "")
    for rule in all_rules():
        if rule.id.casefold() == wanted or rule.id.casefold().replace("kb", "") == wanted:
            return rule
    return None


def watched_keys(rules: Iterable[Rule] | None = None) -> list[str]:
    """Registry keys beyond Logon Only As that some rule reads (snapshotted from each export)."""
    return list(dict.fromkeys(k for r in (all_rules() if rules is None else rules) for k in r.registry_keys))


def watched_events(rules: Iterable[Rule] | None = None) -> dict[str, frozenset[int]]:
    """Casefolded source -> event IDs kept whole for the rules (``analyzer.evidence.Evidence.watched``)."""
    return watched_of(n for r in (all_rules() if rules is None else rules) for n in r.events)


def evidence_filter(rules: Iterable[Rule] | None = None) -> EventFilter:
    """The pushdown filter of a case: the event IDs some rule reads; readers skip every other record."""
    return _filter_of(n for r in (all_rules() if rules is None else rules) for n in r.events)
