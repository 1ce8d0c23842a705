"""Short fuzz run of every reader (the long campaign is ``python fuzz/run.py --minutes N``).

Hypothesis draws a seed file (writer-made or from ../shared/corpus) and 1-4 damage operations
(truncate, bit flips, inserted/deleted bytes, splices, boundary values in length fields); every result
must end in records and/or warnings or one clean one-line InputError -- never another exception,
never more than the per-input time bound, and the process must not balloon.
"""

from __future__ import annotations

import random
import resource
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.mutate import KINDS, mutate_once
from fuzz.seeds import seeds
from fuzz.targets import TARGETS, run_bytes

# Per-target example counts: together the run takes tens of seconds on a shared 2-core machine.
EXAMPLES = {"evtx-python": 120, "case": 150, "hive": 250}
DEFAULT_EXAMPLES = 400
RSS_GROWTH_LIMIT_KB = 400 * 1024

damage = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 2**32 - 1)),
    min_size=1,
    max_size=4,
)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_damaged_input_ends_in_records_warnings_or_one_clean_error(target: str) -> None:
    pool = seeds(target)
    assert pool, f"no seeds for {target}"
    workdir = tempfile.mkdtemp(prefix=f"fuzz-{target}-")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    @settings(
        max_examples=EXAMPLES.get(target, DEFAULT_EXAMPLES),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(index=st.integers(0, len(pool) - 1), ops=damage)
    def check(index: int, ops: list[tuple[str, int]]) -> None:
        data = pool[index]
        for kind, rseed in ops:
            data = mutate_once(data, random.Random(rseed), pool, kind)
        out = run_bytes(target, data, workdir)
        assert out.crash is None, f"{target}: {out.where}\n{out.trace}"

    check()
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert growth < RSS_GROWTH_LIMIT_KB, f"{target}: peak RSS grew by {growth // 1024} MiB"


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_seed_reads_cleanly(target: str) -> None:
    """The undamaged seeds give records (or, for a few odd corpus files, a clean error) and no finding."""
    workdir = tempfile.mkdtemp(prefix=f"seed-{target}-")
    outcomes = [run_bytes(target, data, workdir) for data in seeds(target)]
    assert all(o.crash is None for o in outcomes), [o.where for o in outcomes]
    assert sum(o.records for o in outcomes) > 0


def test_harness_reports_other_exceptions_hangs_and_multiline_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fuzz contract can fail: a stray exception, an endless loop and a two-line InputError are findings."""
    import time

    from analyzer.model import InputError
    from fuzz import targets

    def boom(path: str, out: targets.Outcome) -> None:
        raise KeyError("boom")

    def spin(path: str, out: targets.Outcome) -> None:
        while True:
            time.sleep(0.01)

    def two_lines(path: str, out: targets.Outcome) -> None:
        raise InputError(path, "first\nsecond")

    def clean(path: str, out: targets.Outcome) -> None:
        raise InputError(path, "not an event log")

    workdir = tempfile.mkdtemp(prefix="fuzz-self-")
    for name, fn in {"boom": boom, "spin": spin, "two": two_lines, "clean": clean}.items():
        monkeypatch.setitem(targets.TARGETS, name, fn)
    assert run_bytes("boom", b"x", workdir).crash == "KeyError: 'boom'"
    hang = run_bytes("spin", b"x", workdir, seconds=0.2)
    assert hang.crash is not None and hang.crash.startswith("FuzzTimeout")
    assert run_bytes("two", b"x", workdir).crash == "InputError message spans lines"
    ok = run_bytes("clean", b"x", workdir)
    assert ok.crash is None and ok.error is not None and "not an event log" in ok.error
