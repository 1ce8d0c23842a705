"""Selective .evtx rendering gives exactly what rendering every record gives.

The reader decides per record from its binary XML (EventID, provider) and has the Rust parser render only
the records a filter may want.  Every test here compares that with the complete path (every record
rendered, then filtered): Event by Event with all fields, and the warnings, on every corpus file (damaged
ones included) and on files of the project's writer whose templates are defined in records the filter
skips, with EventData nested as its own template instance, and with filters on half the pairs a file holds.
"""

from __future__ import annotations

import importlib.metadata
import random
import re
import struct
import subprocess
import sys
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analyzer.model import Event, EventFilter, EventType, ReadWarning
from analyzer.readers import binxml, evtx
from analyzer.rules import evidence_filter
from tests.conftest import corpus_files
from tests.writers.evtx_writer import CHUNK_HEADER_SIZE, CHUNK_SIZE, FILE_HEADER_SIZE, write_evtx

REPO = Path(__file__).resolve().parent.parent


def test_installed_evtx_is_the_release_the_selective_path_was_proven_on() -> None:
    """The selective path relies on how this ``evtx`` release renders a chunk with folded records.  A
    different release switches it off at run time (every chunk rendered completely); this test makes the
    difference loud so that the proofs below are run again and the pin moved on purpose."""
    installed = importlib.metadata.version("evtx")
    pinned = re.search(r"^evtx==(\S+)", (REPO / "requirements.txt").read_text(), re.MULTILINE)
    assert pinned is not None, "requirements.txt must pin evtx"
    assert pinned.group(1) == evtx.PROVEN_EVTX_VERSION, "requirements.txt and PROVEN_EVTX_VERSION disagree"
    assert installed == evtx.PROVEN_EVTX_VERSION, (
        f"evtx {installed} is installed but the selective path was proven on {evtx.PROVEN_EVTX_VERSION}: "
        "run tests/test_evtx_selective.py with the new release, then move the pin and PROVEN_EVTX_VERSION"
    )
    assert evtx._selective_proven()


class _Usage:
    """Counts how the chunks were read: selectively, or back on the complete path."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: Counter[str] = Counter()
        original = evtx._selective_chunk_events

        def counted(*args):  # type: ignore[no-untyped-def]
            out = original(*args)
            self.counts["fallback" if out is None else "selective"] += 1
            return out

        monkeypatch.setattr(evtx, "_selective_chunk_events", counted)


def _read(path: Path, flt: EventFilter | None, *, selective: bool) -> tuple[list[Event], list[ReadWarning]]:
    warnings: list[ReadWarning] = []
    saved = evtx.SELECTIVE
    evtx.SELECTIVE = selective
    try:
        events = list(evtx.read(str(path), filters=flt, warn=warnings.append, backend="rust"))
    finally:
        evtx.SELECTIVE = saved
    return events, warnings


def _same(path: Path, flt: EventFilter) -> list[Event]:
    """Selective == complete path with the same filter (events and warnings) == full read then filter."""
    chosen, chosen_warnings = _read(path, flt, selective=True)
    complete, complete_warnings = _read(path, flt, selective=False)
    assert chosen == complete
    assert chosen_warnings == complete_warnings
    everything, _ = _read(path, None, selective=True)
    assert chosen == [e for e in everything if flt.matches(e)]
    return chosen


def _half_filters(events: list[Event]) -> list[EventFilter]:
    """Filters on half the (source, ID) pairs a file holds: with the pairs, and on their IDs alone."""
    common = Counter((e.source, e.event_id) for e in events)
    ranked = sorted(common, key=lambda p: (-common[p], p))
    half = ranked[: max(1, len(ranked) // 2)]
    other = ranked[len(ranked) // 2 :] or ranked
    return [
        EventFilter.build(ids={i for _, i in half}, pairs=half),
        EventFilter.build(ids={i for _, i in other}, pairs=other),
        EventFilter.build(ids={i for _, i in half}),
    ]


@pytest.mark.parametrize("path", corpus_files("evtx"), ids=lambda p: p.name)
def test_selective_equals_complete_on_corpus(path: Path) -> None:
    if path.suffix != ".evtx":
        pytest.skip("not an .evtx file")
    everything, _ = _read(path, None, selective=False)
    for flt in (evidence_filter(), *_half_filters(everything)):
        _same(path, flt)


def test_corpus_is_read_selectively_where_it_can_be(monkeypatch: pytest.MonkeyPatch) -> None:
    """The proof above means something only if real files take the selective path: most chunks do."""
    paths = [p for p in corpus_files("evtx") if p.suffix == ".evtx"]
    if not paths:
        pytest.skip("corpus absent (../shared/corpus/evtx)")
    usage = _Usage(monkeypatch)
    for path in paths:
        everything, _ = _read(path, None, selective=False)
        _read(path, _half_filters(everything)[0], selective=True)
    assert usage.counts["selective"] > 5 * usage.counts["fallback"], usage.counts


# --------------------------------------------------------------------------- generated files

_KINDS = [
    (1016, "MSExchangeIS Private", EventType.SUCCESS_AUDIT),  # first: defines the shared templates
    (1023, "MSExchangeIS Private", EventType.FAILURE_AUDIT),
    (1023, "Winlogon", EventType.INFORMATION),
    (1005, "Winlogon", EventType.INFORMATION),
    (1005, "MSExchangeSA", EventType.ERROR),
    (4018, "MSExchangeIMC", EventType.ERROR),
    (4018, "Userenv", EventType.ERROR),
    (7024, "Service Control Manager", EventType.ERROR),
    (13003, "MSExchangeIMAP4", EventType.WARNING),
    (6005, "EventLog", EventType.INFORMATION),
]


def _events(count: int, seed: int) -> Iterator[Event]:
    rng = random.Random(seed)
    t0 = datetime(2001, 3, 1, tzinfo=UTC)
    for i in range(count):
        event_id, source, etype = _KINDS[0] if i % 37 == 0 else rng.choice(_KINDS)
        strings = tuple(f"s{i}-{k}" for k in range(rng.choice((1, 1, 2, 3))))
        when = t0 + timedelta(seconds=7 * i)
        yield Event(
            "", i + 1, None, when, when, event_id, 0xC000_0000 | event_id if i % 5 == 0 else event_id, etype,
            i % 3, source, "EXCH01", "S-1-5-18" if i % 4 == 0 else None, strings,
            bytes([i % 256, 7]) if i % 6 == 0 else b"", "a message" if i % 9 == 0 else None,
        )  # fmt: skip


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested-eventdata"])
@pytest.mark.parametrize("per_chunk", [0, 23])
def test_selective_equals_complete_on_generated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nested: bool, per_chunk: int
) -> None:
    path = tmp_path / "mixed.evtx"
    write_evtx(path, _events(1500, seed=per_chunk), nested_event_data=nested, records_per_chunk=per_chunk)
    usage = _Usage(monkeypatch)
    everything, _ = _read(path, None, selective=False)
    assert len(everything) == 1500
    kept = _same(path, evidence_filter())
    assert {(e.source, e.event_id) for e in kept} >= {("MSExchangeIS Private", 1023), ("MSExchangeIMC", 4018)}
    for flt in _half_filters(everything):
        assert _same(path, flt)
    assert usage.counts["fallback"] == 0 and usage.counts["selective"] > 0, usage.counts


def _templates_of_skipped_records(path: Path, flt: EventFilter) -> tuple[int, int]:
    """(wanted records whose template is defined inside a record the filter skips, wanted records)."""
    data = path.read_bytes()
    found = wanted_total = 0
    for at in range(FILE_HEADER_SIZE, len(data), CHUNK_SIZE):
        chunk = data[at : at + CHUNK_SIZE]
        spans = []
        pos = CHUNK_HEADER_SIZE
        while chunk[pos : pos + 4] == b"\x2a\x2a\x00\x00":
            size = struct.unpack_from("<I", chunk, pos + 4)[0]
            spans.append((pos, pos + size))
            pos += size
        wanted = binxml.decide(binxml.ChunkTemplates(chunk), spans, flt)
        for (start, _end), keep in zip(spans, wanted, strict=True):
            if not keep:
                continue
            wanted_total += 1
            definition = struct.unpack_from("<I", chunk, start + 34)[0]
            home = next(i for i, (s, e) in enumerate(spans) if s <= definition < e)
            found += not wanted[home]
    return found, wanted_total


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested-eventdata"])
def test_wanted_records_use_templates_defined_in_skipped_records(tmp_path: Path, nested: bool) -> None:
    """The case the folding must get right: the definition sits inside a record that is not rendered."""
    path = tmp_path / "shared.evtx"
    write_evtx(path, _events(600, seed=1), nested_event_data=nested)
    flt = evidence_filter()
    borrowed, wanted = _templates_of_skipped_records(path, flt)
    assert wanted > 20 and borrowed > wanted // 4
    _same(path, flt)


def _rewrite_chunk(path: Path, index: int, change) -> None:  # type: ignore[no-untyped-def]
    """Change one chunk's bytes and make its CRC32s right again (so only the binary XML is odd)."""
    data = bytearray(path.read_bytes())
    at = FILE_HEADER_SIZE + index * CHUNK_SIZE
    chunk = bytearray(data[at : at + CHUNK_SIZE])
    change(chunk)
    free = struct.unpack_from("<I", chunk, 48)[0]
    struct.pack_into("<I", chunk, 52, zlib.crc32(chunk[CHUNK_HEADER_SIZE:free]))
    struct.pack_into("<I", chunk, 124, zlib.crc32(chunk[128:512], zlib.crc32(chunk[:120])))
    data[at : at + CHUNK_SIZE] = chunk
    path.write_bytes(bytes(data))


def test_a_template_it_cannot_map_sends_the_chunk_to_the_complete_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "odd.evtx"
    write_evtx(path, _events(600, seed=2), records_per_chunk=100)

    def odd_token(chunk: bytearray) -> None:
        # The first record defines its template inline; its first token becomes 0xFF, no BinXML token:
        # this module refuses the template, the complete path reports whatever the renderer makes of it.
        definition = struct.unpack_from("<I", chunk, CHUNK_HEADER_SIZE + 34)[0]
        body = definition + binxml.TEMPLATE_DEFINITION.size
        assert chunk[body : body + 4] == binxml.FRAGMENT_HEADER
        chunk[body + 4] = 0xFF

    _rewrite_chunk(path, 1, odd_token)
    data = path.read_bytes()[FILE_HEADER_SIZE + CHUNK_SIZE :][:CHUNK_SIZE]
    definition = struct.unpack_from("<I", data, CHUNK_HEADER_SIZE + 34)[0]
    with pytest.raises(binxml.BinXmlError) as raised:
        binxml.parse_template(data, definition)
    assert raised.value.offset == definition + binxml.TEMPLATE_DEFINITION.size + 4
    assert f"0x{raised.value.offset:x}" in str(raised.value)
    usage = _Usage(monkeypatch)
    for flt in (evidence_filter(), EventFilter.build(ids=[1005, 1016])):
        _same(path, flt)
    assert usage.counts["fallback"] >= 1 and usage.counts["selective"] >= 4


def test_damaged_chunks_never_take_the_selective_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "damaged.evtx"
    write_evtx(path, _events(700, seed=3), records_per_chunk=100, bad_crc=[2], bad_chunk_magic=[4])
    usage = _Usage(monkeypatch)
    _, warnings = _read(path, evidence_filter(), selective=True)
    assert any("CRC32" in w.message for w in warnings)
    assert usage.counts["selective"] == 5  # 7 chunks, one skipped (magic), one damaged (CRC): complete path
    _same(path, evidence_filter())


def test_records_after_the_free_space_offset_stay_unread(tmp_path: Path) -> None:
    """Old records left past a chunk's free-space offset (slack) are read by neither path."""
    path = tmp_path / "slack.evtx"
    write_evtx(path, _events(60, seed=8))

    def shrink(chunk: bytearray) -> None:
        pos = CHUNK_HEADER_SIZE
        for _ in range(30):
            pos += struct.unpack_from("<I", chunk, pos + 4)[0]
        struct.pack_into("<I", chunk, 48, pos)  # the last 30 records are now slack

    _rewrite_chunk(path, 0, shrink)
    for flt in (evidence_filter(), EventFilter.build(ids=[1005, 1016, 1023])):
        kept = _same(path, flt)
        assert all(e.record <= 30 for e in kept)


def test_an_unexpected_rendering_sends_the_chunk_to_the_complete_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mixed.evtx"
    write_evtx(path, _events(400, seed=4))
    expected = _read(path, evidence_filter(), selective=False)
    monkeypatch.setattr(evtx, "_FILLER_JSON", "something else")
    usage = _Usage(monkeypatch)
    assert _read(path, evidence_filter(), selective=True) == expected
    assert usage.counts["fallback"] > 0 and usage.counts["selective"] == 0


def test_another_evtx_release_reads_every_chunk_completely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mixed.evtx"
    write_evtx(path, _events(300, seed=5))
    monkeypatch.setattr(evtx, "_PROVEN", [False])
    usage = _Usage(monkeypatch)
    assert _read(path, evidence_filter(), selective=True) == _read(path, evidence_filter(), selective=False)
    assert not usage.counts


# --------------------------------------------------------------------------- the template map itself


def test_template_map_names_the_system_fields(tmp_path: Path) -> None:
    path = tmp_path / "one.evtx"
    write_evtx(path, list(_events(3, seed=6)), nested_event_data=True)
    chunk = path.read_bytes()[FILE_HEADER_SIZE : FILE_HEADER_SIZE + CHUNK_SIZE]
    definition = struct.unpack_from("<I", chunk, CHUNK_HEADER_SIZE + 34)[0]
    template = binxml.parse_template(chunk, definition)
    assert template.root == "Event"
    by_index = {name: slot.index for name, slot in template.fields.items()}
    # the writer's substitution order: Qualifiers, EventID, Level, Task, Keywords, TimeCreated,
    # EventRecordID, Channel, Computer, UserID, Provider Name; then the nested EventData value
    assert by_index == {
        "qualifiers": 0, "event_id": 1, "level": 2, "task": 3, "keywords": 4, "time": 5, "record_id": 6,
        "channel": 7, "computer": 8, "user_id": 9, "provider": 10,
    }  # fmt: skip
    assert template.fields["event_id"].value_type == binxml.TYPE_UINT16
    assert template.event_data == (11,)
    assert template.fields["event_id"].value_type == binxml.TYPE_UINT16
    records = [(CHUNK_HEADER_SIZE, CHUNK_HEADER_SIZE + struct.unpack_from("<I", chunk, CHUNK_HEADER_SIZE + 4)[0])]
    instance = binxml.ChunkTemplates(chunk).instance(*records[0])
    assert binxml.slot_uint16(chunk, instance, template.fields["event_id"]) == 1016
    assert binxml.slot_text(chunk, instance, template.fields["provider"]) == "MSExchangeIS Private"
    kind, raw = binxml.value_bytes(chunk, instance, 11)  # type: ignore[misc]
    assert kind == binxml.TYPE_BINXML and raw.startswith(binxml.FRAGMENT_HEADER + bytes([0x0C]))


def _chunk_records(data: bytes) -> Iterator[tuple[bytes, list[int], list[int]]]:
    """(chunk bytes, record starts, record sizes) of every sound chunk of a file (as the reader walks)."""
    for at in range(FILE_HEADER_SIZE, len(data) - CHUNK_SIZE + 1, CHUNK_SIZE):
        chunk = data[at : at + CHUNK_SIZE]
        if chunk[:8] != b"ElfChnk\x00":
            continue
        starts, sizes = [], []
        pos = CHUNK_HEADER_SIZE
        free = struct.unpack_from("<I", chunk, 48)[0]
        while pos + 28 <= min(free, CHUNK_SIZE) and chunk[pos : pos + 4] == b"\x2a\x2a\x00\x00":
            size = struct.unpack_from("<I", chunk, pos + 4)[0]
            if size < 28 or pos + size > CHUNK_SIZE:
                break
            starts.append(pos)
            sizes.append(size)
            pos += size
        if starts:
            yield chunk[:128] + bytes(384) + chunk[512:], starts, sizes


def _generated_and_corpus(tmp_path: Path) -> list[Path]:
    paths = [p for p in corpus_files("evtx") if p.suffix == ".evtx"]
    for nested in (False, True):
        path = tmp_path / f"generated-{nested}.evtx"
        write_evtx(path, _events(900, seed=7), nested_event_data=nested)
        paths.append(path)
    return paths


def test_all_records_at_once_answer_as_record_by_record(tmp_path: Path) -> None:
    """``wanted_records`` (one key per shape of record) gives exactly ``decide``'s per-record answers."""
    compared = 0
    for path in _generated_and_corpus(tmp_path):
        everything, _ = _read(path, None, selective=False)
        for flt in (evidence_filter(), *(_half_filters(everything) if everything else ())):
            for chunk, starts, sizes in _chunk_records(path.read_bytes()):
                spans = [(s, s + n) for s, n in zip(starts, sizes, strict=True)]
                try:
                    one_by_one = binxml.decide(binxml.ChunkTemplates(chunk), spans, flt)
                except (binxml.BinXmlError, struct.error):
                    continue
                at_once = binxml.wanted_records(binxml.ChunkTemplates(chunk), starts, sizes, flt)
                assert at_once == [i for i, keep in enumerate(one_by_one) if keep], path.name
                compared += len(starts)
    assert compared > 5000


def test_fields_beyond_the_key_limit_are_decided_one_by_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A template whose EventID or provider sits far down the value array does not grow the keys: its
    records are decided one by one, with the same answers (here: the limit lowered below the writer's)."""
    path = tmp_path / "far.evtx"
    write_evtx(path, _events(500, seed=9))
    monkeypatch.setattr(binxml, "_KEY_LIMIT", 18 + 4)
    monkeypatch.setattr(binxml, "_KEY_LENGTH", [18 + 4])
    flt = evidence_filter()
    for chunk, starts, sizes in _chunk_records(path.read_bytes()):
        spans = [(s, s + n) for s, n in zip(starts, sizes, strict=True)]
        one_by_one = binxml.decide(binxml.ChunkTemplates(chunk), spans, flt)
        at_once = binxml.wanted_records(binxml.ChunkTemplates(chunk), starts, sizes, flt)
        assert at_once == [i for i, keep in enumerate(one_by_one) if keep]
    assert binxml._KEY_LENGTH == [18 + 4]
    _same(path, flt)


def test_a_log_wanted_nearly_whole_is_read_the_complete_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deciding record by record only costs when the filter wants almost everything: after such a chunk
    the next ``DENSE_PAUSE`` chunks go the complete way, then the selective path is tried again."""
    path = tmp_path / "dense.evtx"
    write_evtx(path, _events(40 * 30, seed=10), records_per_chunk=30)
    flt = EventFilter.build(ids={k[0] for k in _KINDS})  # every record
    usage = _Usage(monkeypatch)
    assert len(_same(path, flt)) == 1200
    assert usage.counts["selective"] == -(-40 // (evtx.DENSE_PAUSE + 1))  # chunks 0, 17, 34


def test_records_defining_their_template_inline_are_located_not_decided_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first record of each template in a chunk carries the definition inline; it is decided from its
    descriptors like the keyed records (same answers as ``decide``, checked above), so ``decide`` runs for
    almost no record of a log the writer made."""
    path = tmp_path / "inline.evtx"
    write_evtx(path, _events(900, seed=11))
    calls: list[int] = []
    real_decide = binxml.decide

    def counting(templates: binxml.ChunkTemplates, spans: list[tuple[int, int]], filters: object) -> list[bool]:
        calls.append(len(spans))
        return real_decide(templates, spans, filters)

    monkeypatch.setattr(binxml, "decide", counting)
    flt = evidence_filter()
    records = inline = 0
    for chunk, starts, sizes in _chunk_records(path.read_bytes()):
        binxml.wanted_records(binxml.ChunkTemplates(chunk), starts, sizes, flt)
        records += len(starts)
        definitions = {int.from_bytes(chunk[s + 34 : s + 38], "little") for s in starts}
        inline += sum(1 for s in starts if s + 38 in definitions)
    assert inline >= 3 and records > 500
    assert sum(calls) < inline  # without the inline path every one of them went through decide


def test_the_python_chunk_scan_gives_the_reader_the_same_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the optional C module is not built (a laptop without a compiler), the reader runs the Python
    chunk scan: every corpus file and a written log read to the same Events and warnings both ways."""
    from analyzer.readers import chunkscan

    written = tmp_path / "written.evtx"
    write_evtx(written, _events(1500, seed=13))
    paths = [*(p for p in corpus_files("evtx") if p.suffix == ".evtx"), written]
    flt = evidence_filter()
    as_installed = [_read(path, flt, selective=True) for path in paths]
    monkeypatch.setattr(chunkscan, "scan", chunkscan._py_scan)
    monkeypatch.setattr(chunkscan, "keys_of", chunkscan._py_keys_of)
    monkeypatch.setattr(chunkscan, "hits", chunkscan._py_hits)
    in_python = [_read(path, flt, selective=True) for path in paths]
    assert in_python == as_installed
    assert any(events for events, _ in in_python)


_CUT_KEY_PROBE = """
import sys
from analyzer.readers import binxml, evtx as E
from analyzer.rules import evidence_filter
path = sys.argv[1]
layout = E._open_layout(path, lambda w: None)
chunk = next(iter(E._chunks(path, layout, lambda w: None)))
flt = evidence_filter()
binxml.wanted_records(binxml.ChunkTemplates(chunk.data), chunk.starts, chunk.sizes, flt)
length = binxml._KEY_LENGTH[0]
keyed = chunk.starts[-1]  # the template is defined in an earlier record: this one's key is a reference
for room in range(18, length):
    at = len(chunk.data) - binxml._INSTANCE_AT - room
    data = bytearray(chunk.data)
    data[at:] = chunk.data[keyed : keyed + len(data) - at]
    try:
        binxml.wanted_records(binxml.ChunkTemplates(bytes(data)), [at], [len(data) - at], flt)
    except binxml.BinXmlError:
        pass  # the reader then reads the chunk the complete way
print("done", length)
"""


def test_a_key_cut_short_by_the_chunk_end_does_not_stall_the_decision(tmp_path: Path) -> None:
    """A record starting so close to the chunk's end that its key is shorter than the descriptors its
    template needs: the key length grew to what was needed and the slice still came back short.  That
    used to ask for longer keys forever (a damaged or hostile log hung the reader); the record is now
    decided one by one.  Run in a child process so that a regression fails instead of hanging."""
    path = tmp_path / "cut.evtx"
    write_evtx(path, _events(300, seed=3))
    done = subprocess.run(
        [sys.executable, "-c", _CUT_KEY_PROBE, str(path)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("done ")
    assert int(done.stdout.split()[1]) > 18 + 4  # the keys really had to grow past the shortest cut
