"""How the cost of counting each event once grows with the number of kept events.

    python benchmarks/dedup_speed.py [--sizes 5000,10000,20000,40000]

For each size N, feeds N refusals (1023) to the evidence twice -- once as a binary log would give them
(UTC) and once as a text export made three hours east of UTC would (naive local times) -- and times
``analyzer.dedup.merge_duplicates``.  Linear cost shows as a constant time per event across the sizes;
a pairwise comparison would double the time per event with every doubling of N.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from datetime import UTC, datetime, timedelta

from analyzer.dedup import merge_duplicates
from analyzer.evidence import Evidence
from analyzer.model import Event, EventType

T0 = datetime(2002, 6, 14, 13, 4, 5, tzinfo=UTC)


def refusal(i: int) -> Event:
    dn = f"/o=Contoso/ou=Berlin/cn=Recipients/cn=user{i}"
    when = T0 + timedelta(seconds=i)
    return Event(
        path="x", record=i + 1, offset=None, time_generated=when, time_written=when, event_id=1023,
        event_id_full=1023, type=EventType.FAILURE_AUDIT, category=1, source="MSExchangeIS Private",
        computer="EXCH01", sid=None, strings=("CONTOSO\\exsvc", dn, dn),
    )  # fmt: skip


def run(n: int) -> tuple[float, int]:
    evidence = Evidence()
    log = [refusal(i) for i in range(n)]
    for e in log:
        evidence.feed(e, "AppEvent.Evt")
    for e in log:
        local = (e.time_generated + timedelta(hours=3)).replace(tzinfo=None)  # type: ignore[operator]
        evidence.feed(dataclasses.replace(e, time_generated=local, time_written=None), "AppEvent.txt")
    start = time.perf_counter()
    merged = merge_duplicates(evidence)
    return time.perf_counter() - start, merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000,40000")
    args = parser.parse_args()
    print(f"{'events per file':>15}  {'merged':>7}  {'seconds':>8}  {'µs per event':>12}")
    for n in (int(x) for x in args.sizes.split(",")):
        seconds, merged = run(n)
        print(f"{n:>15}  {merged:>7}  {seconds:>8.3f}  {seconds / (2 * n) * 1e6:>12.1f}")


if __name__ == "__main__":
    main()
