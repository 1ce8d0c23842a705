"""``fuzz.targets.time_bound`` keeps an enclosing SIGALRM limit (pytest-timeout's) alive.

Found while working on .evtx speed: each fuzz input armed its own timer and cancelled the test runner's, so
an endless loop inside ``test_fuzz`` would have hung the suite instead of failing after 300 s.  The waits
below are generous (a 0.2 s timer must fire within 20 s), so a loaded machine does not make them flaky.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from fuzz.targets import FuzzTimeout, time_bound

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="SIGALRM timers are POSIX only")


class Outer(Exception):
    """What the enclosing handler raises (pytest-timeout fails the test the same way)."""


@pytest.fixture
def outer() -> Iterator[None]:
    """An enclosing SIGALRM handler, as a test runner installs it; the runner's own timer is set aside."""

    def fire(_signum: int, _frame: object) -> None:
        raise Outer

    saved = signal.setitimer(signal.ITIMER_REAL, 0)
    previous = signal.signal(signal.SIGALRM, fire)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if saved[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *saved)


def _spin(limit: float = 20.0) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        time.sleep(0.01)


def test_the_enclosing_limit_fires_inside_a_longer_bound(outer: None) -> None:
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    with pytest.raises(Outer), time_bound(60):
        _spin()


def test_the_enclosing_limit_is_armed_again_after_the_bound(outer: None) -> None:
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    with time_bound(60):
        pass
    assert signal.getitimer(signal.ITIMER_REAL)[0] > 0
    with pytest.raises(Outer):
        _spin()


def test_a_shorter_bound_still_fires_first_and_keeps_the_enclosing_deadline(outer: None) -> None:
    signal.setitimer(signal.ITIMER_REAL, 600)
    with pytest.raises(FuzzTimeout), time_bound(0.1):
        _spin()
    remaining = signal.getitimer(signal.ITIMER_REAL)[0]
    assert 500 < remaining <= 600


def test_without_an_enclosing_limit_the_bound_leaves_no_timer(outer: None) -> None:
    with pytest.raises(FuzzTimeout), time_bound(0.1):
        _spin()
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
