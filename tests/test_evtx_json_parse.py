"""The Rust backend's record JSON is parsed by ``json`` for a process's first records and by orjson after
``evtx.ORJSON_AFTER`` of them (orjson's import costs more than a small case's parsing).  Both must give
the very same objects: compared by ``repr`` (types, key order, values) on every record of every corpus
.evtx (damaged ones included), on records of the project's writer, and on the number forms the renderer
emits (its JSON numbers are 64-bit integers or finite doubles; NaN and infinities render as null).  The
reader gives the same Events whichever parser a record meets, and a small case never imports orjson."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import evtx as rust_evtx
import pytest

from analyzer.readers import evtx
from tests.conftest import REPO, corpus_files
from tests.test_evtx_writer import make_events
from tests.writers.evtx_writer import write_evtx

CORPUS_EVTX = corpus_files("evtx", "*.evtx")


def _records_json(path: Path) -> Iterator[str]:
    """Every record's JSON text the Rust parser gives (records it cannot render are passed over)."""
    records = rust_evtx.PyEvtxParser(str(path)).records_json()
    failures = 0
    while failures < 1000:
        try:
            yield next(records)["data"]
        except StopIteration:
            return
        except Exception:  # a damaged record: the iterator goes on with the next one
            failures += 1


def _same_parse(text: str) -> None:
    fast = evtx._fast_loads()
    assert fast is not evtx._json_loads, "orjson is in requirements.txt"
    assert repr(fast(text)) == repr(json.loads(text))


@pytest.mark.parametrize("path", CORPUS_EVTX, ids=lambda p: p.name)
def test_orjson_and_json_agree_on_every_corpus_record(path: Path) -> None:
    count = 0
    for text in _records_json(path):
        _same_parse(text)
        count += 1
    assert count > 0


def test_orjson_and_json_agree_on_written_records(tmp_path: Path) -> None:
    path = tmp_path / "written.evtx"
    write_evtx(path, make_events(120), records_per_chunk=40)
    texts = list(_records_json(path))
    assert len(texts) == 120
    for text in texts:
        _same_parse(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"n":18446744073709551615,"m":-9223372036854775808,"z":0,"neg":-1}',  # u64 max, i64 min
        '{"f":1.7976931348623157e308,"g":5e-324,"h":2.2250738585072014e-308,"i":0.1,"j":-0.0,"k":1.0}',
        '{"Data":null,"b":[true,false,null],"e":{}}',
        '{"a":1,"b":2,"a":3}',  # a repeated key: last value, first position, in both
        '{"s":"tab\\tquote\\"slash\\/nul\\u0000 \\u00fc \\ud83d\\ude00 \u20ac"}',
        '{"lone":"\\ud800"}',  # orjson refuses a lone surrogate: json answers
    ],
)
def test_orjson_and_json_agree_on_the_forms_the_renderer_emits(text: str) -> None:
    _same_parse(text)


@pytest.fixture
def fresh_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader's parser as in a fresh process (nothing counted yet)."""
    monkeypatch.setattr(evtx, "_loads", evtx._counting_loads)
    monkeypatch.setattr(evtx, "_parsed_with_json", 0)


def _read(path: Path) -> list[object]:
    return list(evtx.read(str(path), backend="rust"))


def test_the_reader_switches_to_orjson_after_the_threshold_with_the_same_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_parser: None
) -> None:
    path = tmp_path / "written.evtx"
    write_evtx(path, make_events(90), records_per_chunk=30)
    monkeypatch.setattr(evtx, "ORJSON_AFTER", 10**9)
    with_json = _read(path)
    assert evtx._loads is evtx._counting_loads and evtx._parsed_with_json == 90
    monkeypatch.setattr(evtx, "_parsed_with_json", 0)
    monkeypatch.setattr(evtx, "ORJSON_AFTER", 25)
    switched = _read(path)
    assert evtx._loads is not evtx._counting_loads  # the 25th record switched the parser
    assert evtx._parsed_with_json == 25  # and json parsed no record after it
    assert switched == with_json
    assert _read(path) == with_json  # all with orjson now


_PROBE = """
import json, sys
import analyzer
from analyzer.readers import evtx
if sys.argv[2] == "read":
    count = sum(1 for _ in evtx.read(sys.argv[1]))
else:
    count = analyzer.diagnose(sys.argv[1]).to_dict()["inputs"][0]["records"]
print(json.dumps([count, evtx.ORJSON_AFTER, sorted(m for m in ("orjson", "uuid", "platform") if m in sys.modules)]))
"""


def _probe(path: Path, how: str) -> list[object]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), how], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_a_small_case_never_imports_orjson() -> None:
    count, threshold, loaded = _probe(REPO / "samples" / "w2k-two-controlsets" / "Application.evtx", "diagnose")
    assert 0 < count < threshold  # type: ignore[operator]
    assert loaded == []


def test_a_log_with_more_records_than_the_threshold_imports_orjson(tmp_path: Path) -> None:
    path = tmp_path / "many.evtx"
    write_evtx(path, make_events(evtx.ORJSON_AFTER + 50), records_per_chunk=200)
    count, _, loaded = _probe(path, "read")
    assert count == evtx.ORJSON_AFTER + 50
    assert "orjson" in loaded  # type: ignore[operator]
