"""Dask engine: a case that kills its worker is one error row, and none of its neighbours is (issue 13).

The culprit really kills its worker process (``os._exit``, a segmentation fault, or memory above the
worker's limit, which the nanny ends); batches are made of two and of five cases, on a cluster of one
worker and of two.  With one worker, the scheduler counts a neighbour queued on the worker as
"suspicious" each time the culprit kills it, which is how neighbours used to become KilledWorker rows.
No assertion on time; each run is bounded by a generous timeout.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import pytest

from analyzer.case import Case
from analyzer.triage import engines, triage
from tests.test_triage import HOG_BYTES, make_case, standin_diagnose

pytest.importorskip("dask.distributed")


def killing_diagnose(case: Case, **options: Any) -> dict[str, Any]:
    """The test stand-in diagnosis, plus a SEGV marker: a real segmentation fault in the worker."""
    if "SEGV" in {Path(i.path).name for i in case.inputs}:
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    return standin_diagnose(case, **options)


@pytest.fixture(autouse=True)
def _no_kept_cluster() -> Any:
    engines.close_dask_clients()  # each test starts its own cluster (jobs differ) and leaves none behind
    yield
    engines.close_dask_clients()


def _root(tmp_path: Path, cases: int, culprit: int, marker: str) -> Path:
    """``cases`` cases in sorted order: the one at ``culprit`` carries the marker, the others are real samples."""
    root = tmp_path / "root"
    scenarios = ["nt4-kb306308", "harmless-1023"]
    good = make_case(tmp_path / "template", scenarios[0])
    for n in range(cases):
        folder = root / f"case-{n:02d}"
        if n == culprit:
            folder.mkdir(parents=True)
            (folder / marker).write_bytes(good.joinpath("AppEvent.Evt").read_bytes())
        else:
            make_case(folder, scenarios[n % 2])
    return root


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("size", "workers", "marker"),
    [(2, 1, "CRASH"), (5, 1, "SEGV"), (2, 2, "HOG"), (5, 2, "CRASH")],
    ids=["batch2-1worker-exit", "batch5-1worker-segv", "batch2-2workers-memory", "batch5-2workers-exit"],
)
def test_a_case_that_kills_its_worker_is_the_only_error_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, workers: int, marker: str
) -> None:
    # Two batches of ``size``: the culprit sits inside the first, the second is queued beside it.
    cases, culprit = 2 * size, size // 2
    root = _root(tmp_path, cases, culprit, marker)
    monkeypatch.setattr(engines, "batch_size", lambda n, slots: size)
    frame = triage(
        [root], out=tmp_path / "out", jobs=workers, engine="dask", memory_limit=HOG_BYTES // 2,
        case_function=killing_diagnose,
    )  # fmt: skip
    rows = frame.set_index("case")
    assert list(rows.index) == [f"case-{n:02d}" for n in range(cases)]
    errors = rows[rows["status"] == "error"]
    assert list(errors.index) == [f"case-{culprit:02d}"], errors["error"].to_dict()
    assert errors["error"].iloc[0].startswith("worker process died")
    expected = {f"case-{n:02d}": ("findings" if n % 2 == 0 else "clean") for n in range(cases) if n != culprit}
    assert rows.drop(index=f"case-{culprit:02d}")["status"].to_dict() == expected
    # every neighbour's JSON was written; the culprit has none
    written = sorted(p.name for p in (tmp_path / "out" / "cases").iterdir())
    assert written == sorted(f"{name}.json" for name in expected)
