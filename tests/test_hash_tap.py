"""The .evtx reader feeds the background hash of the file it reads (``walk.PendingDigest`` taps).

Inside an opened case, a big .evtx's digest is computed from the bytes the reader read, and the hasher
reads from disk only what the reader did not give it.  These tests pin that the digest and size are
exactly ``sha256_file``'s however the reading goes (complete, stopped early, filtered to nothing,
damaged, truncated, changed before or during the read, sparse, never read at all), and that the tap
really is used: the hasher's own reads (``walk._hash_from``) start where the reader's bytes end.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer import case as case_module
from analyzer import walk
from analyzer.case import open_case
from analyzer.diagnosis import diagnose
from analyzer.events import iter_file
from analyzer.model import EventFilter
from analyzer.walk import BackgroundHasher, HashStopped, sha256_file, tap_for
from tests.conftest import corpus_files
from tests.test_evtx_writer import make_events
from tests.writers.evtx_writer import CHUNK_SIZE, FILE_HEADER_SIZE, write_evtx


@pytest.fixture
def disk_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(from, to) of every stretch the hash thread read from disk itself; background hashing for every
    size (the test's own ``sha256_file`` calls are not counted)."""
    monkeypatch.setattr(case_module, "BACKGROUND_HASH_MIN", 1)
    reads: list[tuple[int, int]] = []
    real = walk._hash_from

    def spy(fh, digest, start, stop):  # type: ignore[no-untyped-def]
        end = real(fh, digest, start, stop)
        if threading.current_thread().name == "analyzer-hash":
            reads.append((start, end))
        return end

    monkeypatch.setattr(walk, "_hash_from", spy)
    return reads


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "Application.evtx"
    write_evtx(path, make_events(200), records_per_chunk=10)  # 20 chunks after the file header
    return path


def _hash_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "analyzer-hash"]


def _read_in_case(path: Path, filters: EventFilter | None = None, *, stop_after: int | None = None) -> tuple[str, int]:
    """Open ``path`` as a case, read it as diagnose does (all of it, or ``stop_after`` events), and
    give the digest and size the case settles on."""
    with open_case(str(path)) as case:
        (item,) = case.inputs
        stream = iter_file(item.real_path, fmt=item.format, filters=filters)
        for n, _ in enumerate(stream, 1):
            if n == stop_after:
                break
        stream.close()
    assert _hash_threads() == []
    return item.sha256, item.size


def test_a_complete_read_feeds_the_whole_hash(log: Path, disk_reads: list[tuple[int, int]]) -> None:
    assert _read_in_case(log) == sha256_file(str(log))
    size = log.stat().st_size
    assert disk_reads == [(size, size)]  # the hasher read nothing itself


def test_the_digest_in_the_report_is_the_tapped_one(log: Path, disk_reads: list[tuple[int, int]]) -> None:
    doc = diagnose(str(log)).to_dict()
    (item,) = doc["inputs"]
    assert (item["sha256"], item["size"]) == sha256_file(str(log))
    assert disk_reads == [(log.stat().st_size,) * 2]


def test_a_read_stopped_early_leaves_the_rest_to_the_hasher(log: Path, disk_reads: list[tuple[int, int]]) -> None:
    assert _read_in_case(log, stop_after=1) == sha256_file(str(log))
    ((start, end),) = disk_reads
    assert FILE_HEADER_SIZE < start < end == log.stat().st_size
    assert (start - FILE_HEADER_SIZE) % CHUNK_SIZE == 0  # the reader fed whole chunks, in order


def test_a_filter_that_keeps_nothing_still_feeds_every_byte(log: Path, disk_reads: list[tuple[int, int]]) -> None:
    nothing = EventFilter.build(ids={4242})
    assert _read_in_case(log, nothing) == sha256_file(str(log))
    assert disk_reads == [(log.stat().st_size,) * 2]


def test_damaged_chunks_and_a_changed_hash_index_hash_as_the_file_is(
    log: Path, disk_reads: list[tuple[int, int]]
) -> None:
    """The reader zeroes each chunk's hash index (bytes 128-511) and skips a chunk with a bad magic:
    the hash still gets the bytes of the file."""
    data = bytearray(log.read_bytes())
    data[FILE_HEADER_SIZE + 300] ^= 0x5A  # chunk 0: hash index (header CRC mismatch)
    data[FILE_HEADER_SIZE + 2 * CHUNK_SIZE : FILE_HEADER_SIZE + 2 * CHUNK_SIZE + 8] = b"NotChnk\x00"
    data[FILE_HEADER_SIZE + 5 * CHUNK_SIZE + 4000] ^= 0xFF  # chunk 5: records CRC mismatch
    log.write_bytes(bytes(data))
    warnings: list[str] = []
    with open_case(str(log)) as case:
        (item,) = case.inputs
        list(iter_file(item.real_path, fmt="evtx", warn=lambda w: warnings.append(w.message)))
    assert any("bad chunk magic" in w for w in warnings) and any("CRC32 mismatch" in w for w in warnings)
    assert (item.sha256, item.size) == sha256_file(str(log))
    assert disk_reads == [(len(data), len(data))]


def test_a_truncated_file(log: Path, disk_reads: list[tuple[int, int]]) -> None:
    with open(log, "r+b") as fh:
        fh.truncate(FILE_HEADER_SIZE + 7 * CHUNK_SIZE + 12345)  # ends inside chunk 7
    assert _read_in_case(log) == sha256_file(str(log))
    assert disk_reads == [(log.stat().st_size,) * 2]


@pytest.mark.parametrize("change", ["append", "shrink"])
def test_a_file_changed_between_opening_the_case_and_reading_it(
    log: Path, disk_reads: list[tuple[int, int]], change: str
) -> None:
    with open_case(str(log)) as case:
        (item,) = case.inputs
        with open(log, "r+b") as fh:
            if change == "append":
                fh.seek(0, os.SEEK_END)
                fh.write(b"appended after the case was opened" * 100)
            else:
                fh.truncate(FILE_HEADER_SIZE + 3 * CHUNK_SIZE)
        list(iter_file(item.real_path, fmt="evtx"))
    assert (item.sha256, item.size) == sha256_file(str(log))
    ((start, _),) = disk_reads
    assert start > FILE_HEADER_SIZE  # the reader's bytes were used


def test_a_file_growing_while_it_is_read_is_hashed_anew(log: Path, disk_reads: list[tuple[int, int]]) -> None:
    with open_case(str(log)) as case:
        (item,) = case.inputs
        stream = iter_file(item.real_path, fmt="evtx")
        next(stream)  # the reader has fed the first chunk
        with open(log, "ab") as fh:
            fh.write(b"written while the log was being read" * 100)
        list(stream)
    assert (item.sha256, item.size) == sha256_file(str(log))
    assert disk_reads == [(0, log.stat().st_size)]  # the fed bytes may be stale: all read again


def test_a_sparse_tail_is_fed_as_the_zeros_it_reads_as(log: Path, disk_reads: list[tuple[int, int]]) -> None:
    size = log.stat().st_size
    os.truncate(log, size + 5 * CHUNK_SIZE + 100)  # a hole where a hole can be made
    assert _read_in_case(log) == sha256_file(str(log))
    assert disk_reads == [(log.stat().st_size,) * 2]


def test_an_evtx_never_read_is_hashed_from_disk(log: Path, disk_reads: list[tuple[int, int]]) -> None:
    with open_case(str(log)) as case:
        (item,) = case.inputs
        assert tap_for(item.real_path) is not None
    assert (item.sha256, item.size) == sha256_file(str(log))
    assert disk_reads == [(0, log.stat().st_size)]
    assert tap_for(item.real_path) is None  # offered only inside the case


def test_an_evtx_the_reader_refuses_is_hashed_from_disk(tmp_path: Path, disk_reads: list[tuple[int, int]]) -> None:
    broken = tmp_path / "broken.evtx"
    broken.write_bytes(b"ElfFile\x00" + bytes(1000))  # an evtx by its magic, shorter than its header
    doc = diagnose(str(broken)).to_dict()
    (item,) = doc["inputs"]
    assert "truncated evtx file" in item["error"]
    assert (item["sha256"], item["size"]) == sha256_file(str(broken))
    assert disk_reads == [(0, 1008)]


def test_other_formats_are_not_tapped(tmp_path: Path, disk_reads: list[tuple[int, int]]) -> None:
    other = tmp_path / "notes.txt"
    other.write_bytes(b"not an event log\n" * 1000)
    with open_case(str(other)) as case:
        (item,) = case.inputs
        assert tap_for(item.real_path) is None
    assert (item.sha256, item.size) == sha256_file(str(other))
    assert disk_reads == [(0, other.stat().st_size)]


def test_a_case_of_several_big_files(tmp_path: Path, disk_reads: list[tuple[int, int]]) -> None:
    for name, count in (("a.evtx", 50), ("b.bin", 0), ("c.evtx", 70)):
        if count:
            write_evtx(tmp_path / name, make_events(count), records_per_chunk=10)
        else:
            (tmp_path / name).write_bytes(bytes(range(256)) * 999)
    doc = diagnose(str(tmp_path)).to_dict()
    assert [(i["path"], i["sha256"], i["size"]) for i in doc["inputs"]] == [
        (name, *sha256_file(str(tmp_path / name))) for name in ("a.evtx", "b.bin", "c.evtx")
    ]
    evtx_sizes = {(tmp_path / n).stat().st_size for n in ("a.evtx", "c.evtx")}
    assert sorted(disk_reads) == sorted([(s, s) for s in evtx_sizes] + [(0, (tmp_path / "b.bin").stat().st_size)])


@pytest.mark.parametrize("path", corpus_files("evtx", "*.evtx"), ids=lambda p: p.name)
def test_every_corpus_evtx(path: Path, disk_reads: list[tuple[int, int]]) -> None:
    assert _read_in_case(path) == sha256_file(str(path))


# --------------------------------------------------------------------------- the tap itself


@pytest.fixture
def hasher() -> Iterator[BackgroundHasher]:
    hasher = BackgroundHasher()
    yield hasher
    hasher.close()
    assert _hash_threads() == []


@pytest.fixture
def blob(tmp_path: Path) -> Path:
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(3000))
    return path


def test_only_bytes_that_continue_what_was_fed_are_taken(
    hasher: BackgroundHasher, blob: Path, disk_reads: list[tuple[int, int]]
) -> None:
    data = blob.read_bytes()
    pending = hasher.submit(open(blob, "rb"), tap=True)  # noqa: SIM115 - the hasher closes it
    with open(blob, "rb") as reader:
        assert pending.attach(reader)
        pending.feed(0, data[:100])
        pending.feed(0, b"?" * 100)  # the same range again: ignored
        pending.feed(200, b"?" * 100)  # beyond what was fed: ignored
        pending.feed(100, bytearray(data[100:150]))
        pending.detach()
        pending.feed(150, b"?" * 100)  # after detach: ignored
    assert pending.result() == sha256_file(str(blob))
    assert disk_reads == [(150, 3000)]


def test_a_reader_of_another_file_is_not_attached(
    hasher: BackgroundHasher, blob: Path, tmp_path: Path, disk_reads: list[tuple[int, int]]
) -> None:
    twin = tmp_path / "twin.bin"
    twin.write_bytes(b"?" * 3000)
    pending = hasher.submit(open(blob, "rb"), tap=True)  # noqa: SIM115 - the hasher closes it
    with open(twin, "rb") as other, open(blob, "rb") as reader:
        assert not pending.attach(other)
        pending.feed(0, other.read())  # not attached: ignored
        assert pending.attach(reader)
        assert not pending.attach(reader)  # one reader only
    pending.detach()
    assert pending.result() == sha256_file(str(blob))
    assert disk_reads == [(0, 3000)]


def test_a_job_held_for_its_reader_lets_the_next_ones_go_ahead(
    hasher: BackgroundHasher, blob: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.bin"
    other.write_bytes(b"abc" * 1000)
    held = hasher.submit(open(blob, "rb"), tap=True)  # noqa: SIM115 - the hasher closes it
    plain = hasher.submit(open(other, "rb"))  # noqa: SIM115
    assert plain._done.wait(30)  # hashed while the first job waits for its reader (no one awaits it)
    assert not held._done.is_set()
    assert held.result() == sha256_file(str(blob))  # awaiting it ends the wait for a reader


def test_close_ends_the_wait_for_a_reader(blob: Path) -> None:
    hasher = BackgroundHasher()
    pending = hasher.submit(open(blob, "rb"), tap=True)  # noqa: SIM115 - the hasher closes it
    with open(blob, "rb") as reader:
        assert pending.attach(reader)
        pending.feed(0, reader.read(10))
        hasher.close()
        assert _hash_threads() == []
        with pytest.raises(HashStopped):
            pending.result()
        assert pending.fh.closed
        assert not pending.attach(reader)
