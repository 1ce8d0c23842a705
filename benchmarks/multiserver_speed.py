"""Cost of pairing artefacts with servers and diagnosing each server on its own.

    python benchmarks/multiserver_speed.py [--records N] [--repeat R] [--tmp DIR]

Builds, with the project's test writers, two cases of the same total size from the synthetic stream of
``tests/writers/evt_writer.sample_events`` (every 50th event a 1023, every 97th a 4018): a single-server
case (one N-record .evt of EXCH01 + its .reg) and a two-server case (N/2 records of EXCH01 and N/2 of
EXCH02, each with its own .reg named after the server).  Both read the same number of records, so the
difference is what pairing, splitting the evidence and the second diagnosis cost.  Prints the best of
R runs of ``analyzer.diagnose`` for each, records/s, and the number of servers found.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analyzer.model import Event

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def build(records: int, tmp: Path) -> tuple[Path, Path]:
    from analyzer.model import RegistryKey
    from tests.writers import evt_writer, hive_writer
    from tests.writers import regtext_writers as regtext

    key = r"SYSTEM\CurrentControlSet\Services\MSExchangeIS\ParametersSystem"

    def reg(path: Path, server: str) -> None:
        root = RegistryKey("")
        node = root.ensure_path(["HKEY_LOCAL_MACHINE", *key.split("\\")])
        sa = f"/o=Org/ou=Site/cn=Configuration/cn=Servers/cn={server}/cn=Microsoft System Attendant"
        node.set_value(hive_writer.multi_sz("Logon Only As", [sa]))
        regtext.write_reg(path, root, version=4)

    def events(count: int, server: str) -> Iterator[Event]:
        for e in evt_writer.sample_events(count):
            yield dataclasses.replace(e, computer=server)

    one = tmp / "one-server"
    one.mkdir()
    evt_writer.write_evt(one / "AppEvent.Evt", events(records, "EXCH01"))
    reg(one / "ParametersSystem.reg", "EXCH01")
    two = tmp / "two-servers"
    two.mkdir()
    for server in ("EXCH01", "EXCH02"):
        evt_writer.write_evt(two / f"{server}_AppEvent.Evt", events(records // 2, server))
        reg(two / f"{server}_ParametersSystem.reg", server)
    return one, two


def best_of(case: Path, repeat: int) -> tuple[float, int]:
    from analyzer.diagnosis import diagnose

    best = float("inf")
    servers = 0
    for _ in range(repeat):
        start = time.perf_counter()
        dx = diagnose(str(case))
        best = min(best, time.perf_counter() - start)
        servers = len(dx.servers) or 1
    return best, servers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000, help="records in all (default 200000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case, best time kept (default 3)")
    parser.add_argument("--tmp", type=Path, help="folder for the generated cases (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.tmp:  # a folder that does not exist yet is made, as scaling.py does
        os.makedirs(args.tmp, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        one, two = build(args.records, Path(tmp))
        print(f"{'case':<14} {'records':>9} {'servers':>8} {'seconds':>8} {'records/s':>10}")
        for name, case in (("one server", one), ("two servers", two)):
            seconds, servers = best_of(case, args.repeat)
            print(f"{name:<14} {args.records:>9} {servers:>8} {seconds:>8.2f} {args.records / seconds:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
