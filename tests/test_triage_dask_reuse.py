"""The Dask engine keeps its LocalCluster for the next call in the same process, and sizes batches to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.triage import engines, triage
from tests.test_triage import make_case

pytest.importorskip("dask.distributed")


def test_batches_are_sized_to_the_cluster() -> None:
    assert engines.batch_size(2000, 2) == engines.DASK_BATCH  # many cases: the largest batch
    assert engines.batch_size(40, 2) == 5  # about four tasks per worker thread
    assert engines.batch_size(40, 8) == 1 and engines.batch_size(0, 2) == 1


def test_a_second_call_reuses_the_running_cluster(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_case(root / "one", "nt4-kb306308")
    make_case(root / "two", "harmless-1023")
    engines.close_dask_clients()  # start from none kept (another test may have left its cluster)
    try:
        first = triage([root], out=tmp_path / "a", jobs=1, engine="dask")
        (client,) = engines._CLIENTS.values()
        workers = set(client.scheduler_info()["workers"])
        second = triage([root], out=tmp_path / "b", jobs=1, engine="dask")
        assert list(engines._CLIENTS.values()) == [client] and client.status == "running"
        assert set(client.scheduler_info()["workers"]) == workers  # the same worker processes
        assert list(first["status"]) == list(second["status"])
    finally:
        engines.close_dask_clients()
    assert not engines._CLIENTS
