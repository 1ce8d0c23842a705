"""The per-record passes over one .evtx chunk, kept apart because they run once per record of every log.

A 300,000-record log has 300,000 records to locate and decide, and only a few thousand a rule reads.  The
reader therefore splits the work: the three functions here touch every record, everything else in
``readers.evtx`` and ``readers.binxml`` runs once per chunk, per distinct key or template, or per record
a rule may want.  Their results are packed arrays, not one Python object per record.

* ``scan`` follows the record size fields from the chunk header to the free-space offset.  It answers
  only for a clean chunk: at the first thing the complete walk in ``readers.evtx`` would warn about
  (no record magic before the end, a bad size, a size copy that differs, a record cut off by the end of
  the file) it returns None, and the complete walk runs and gives the warnings.
* ``keys_of`` slices each record's *key*, the bytes from its template instance on, which say where its
  EventID value sits (``binxml.ChunkTemplates.locate``): the distinct keys, and per record the index of
  its key.
* ``hits`` reads each record's EventID bytes at its key's offset and returns the records whose EventID a
  filter reads and whose provider has not been ruled out before.

When the optional native module ``analyzer.readers._chunkscan`` is built (a C translation of exactly these
functions, ``_chunkscan.c``), its versions are used; tests prove both give the same answers.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Sequence
from itertools import pairwise

CHUNK_HEADER_SIZE = 512
CHUNK_SIZE = 65536
RECORD_HEADER_SIZE = 24
RECORD_MAGIC = b"\x2a\x2a\x00\x00"
#: Where a record's template instance (and so its key) starts: right after the record header.
KEY_AT = RECORD_HEADER_SIZE

_RECORD_HEAD = struct.Struct("<4sIQQ").unpack_from  # magic, size, record ID, written FILETIME
_U32 = struct.Struct("<I").unpack_from

#: Per record, in chunk order: offsets in the chunk ("I"), sizes ("I"), record IDs ("Q"), written
#: FILETIMEs ("Q"); then whether the record IDs strictly increase (then they are all distinct).
Scan = tuple[array, array, array, array, bool]


def scan(data: bytes, free: int, length: int) -> Scan | None:
    """The records of a chunk whose walk raises no doubt, or None (then the complete walk must run).

    ``data`` is the 64 KiB chunk, ``free`` its free-space offset (already checked to lie within the
    chunk), ``length`` the bytes the file really holds of it.  A record is taken when it starts with the
    record magic, its size is at least a header plus the size copy, it ends inside the chunk and inside
    ``length``, and its last four bytes repeat its size.  The walk ends cleanly where fewer than a header
    and a size copy are left before ``free``, or where only zero bytes remain before ``free``.
    struct.error when ``data`` is shorter than a record it points to."""
    starts = array("I")
    sizes = array("I")
    record_ids = array("Q")
    written = array("Q")
    head = _RECORD_HEAD
    pos = CHUNK_HEADER_SIZE
    last = free - RECORD_HEADER_SIZE - 4
    while pos <= last:
        magic, size, rid, when = head(data, pos)
        if magic != RECORD_MAGIC:
            if data[pos:free].strip(b"\x00"):
                return None
            break
        end = pos + size
        if size < RECORD_HEADER_SIZE + 4 or end > CHUNK_SIZE or end > length or _U32(data, end - 4)[0] != size:
            return None
        starts.append(pos)
        sizes.append(size)
        record_ids.append(rid)
        written.append(when)
        pos = end
    increasing = all(a < b for a, b in pairwise(record_ids))
    return starts, sizes, record_ids, written, increasing


def keys_of(data: bytes, starts: Sequence[int], key_length: int) -> tuple[list[bytes], array]:
    """Each record's key: the ``key_length`` chunk bytes from its template instance on (``data[p + 24 :
    p + 24 + key_length]`` for a record at ``p``; a record shorter than that gives bytes of the next one,
    callers compare offsets with record sizes).  Returns the distinct keys in the order first met, and
    per record the index of its key in that list ("I" array).  ``starts`` are chunk offsets (>= 0)."""
    index: dict[bytes, int] = {}
    of = array("I")
    for p in starts:
        key = data[p + KEY_AT : p + KEY_AT + key_length]
        found = index.get(key)
        if found is None:
            found = index[key] = len(index)
        of.append(found)
    return list(index), of


def hits(
    data: bytes,
    starts: Sequence[int],
    sizes: Sequence[int],
    key_of: Sequence[int],
    event_id_at: Sequence[int],
    wanted: frozenset[bytes],
    provider_at: Sequence[int],
    provider_size: Sequence[int],
    rejected: frozenset[bytes] | set[bytes],
) -> tuple[list[int], list[int]]:
    """(records whose EventID is wanted, records the keys cannot answer for), as record indexes.

    Per record ``i`` of key ``k = key_of[i]`` (the per-key sequences are indexed by ``k``):

    * ``event_id_at[k] < 0`` (the key cannot say where the EventID is), or the record is too short for
      it (``event_id_at[k] + 6 > sizes[i]``): the record is *unsure* (second list).
    * else its EventID bytes ``data[q : q + 2]`` (``q = starts[i] + event_id_at[k]``) are looked up in
      ``wanted``; not there: neither list.
    * else, when the key holds a provider name (``provider_at[k] >= 0``) that lies inside the record
      (``provider_at[k] + provider_size[k] + 4 <= sizes[i]``) and the EventID bytes followed by the name
      bytes (``data[r : r + provider_size[k]]``, ``r = starts[i] + provider_at[k]``) are in ``rejected``
      (pairs judged unwanted before): neither list.  Otherwise: a hit (first list).

    IndexError when a key index has no entry in the per-key sequences."""
    found: list[int] = []
    unsure: list[int] = []
    for i, (p, n, k) in enumerate(zip(starts, sizes, key_of, strict=True)):
        at = event_id_at[k]
        if at < 0 or at + 6 > n:
            unsure.append(i)
            continue
        q = p + at
        event_id = data[q : q + 2]
        if event_id not in wanted:
            continue
        name_at = provider_at[k]
        if name_at >= 0 and name_at + provider_size[k] + 4 <= n and rejected:
            r = p + name_at
            if event_id + data[r : r + provider_size[k]] in rejected:
                continue
        found.append(i)
    return found, unsure


_py_scan, _py_keys_of, _py_hits = scan, keys_of, hits  # the reference versions, for the tests

try:  # the native translation, when it was built (pip install builds it where a C compiler exists)
    from analyzer.readers._chunkscan import (  # type: ignore[import-not-found,no-redef]
        hits,
        keys_of,
        scan,
    )

    NATIVE = True
except ImportError:
    NATIVE = False
