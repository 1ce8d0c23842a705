"""The per-record passes over one .evtx chunk, kept apart because they run once per record of every log.

A 300,000-record log has 300,000 records to locate and decide, and only a few thousand a rule reads.  The
reader therefore splits the work: these three small functions touch every record, everything else in
``readers.evtx`` and ``readers.binxml`` runs once per chunk, per template or per wanted record.

* ``walk`` follows the record size fields from the chunk header to the free-space offset.  It answers
  only for a clean chunk: at the first thing the complete walk in ``readers.evtx`` would warn about
  (no record magic before the end, a bad size, a size copy that differs, a record cut off by the end of
  the file) it returns None, and the complete walk runs and gives the warnings.
* ``record_keys`` slices each record's *key*: the bytes from its template instance on, which say where
  its EventID value sits (``binxml.ChunkTemplates.locate``).
* ``pick`` reads each record's EventID bytes at its key's offset and says whether they are wanted.

When the optional native module ``analyzer.readers._chunkscan`` is built (a C translation of exactly these
functions, see ``native/chunkscan.c``), its versions are used; tests prove both give the same answers.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

CHUNK_HEADER_SIZE = 512
CHUNK_SIZE = 65536
RECORD_MAGIC = b"\x2a\x2a\x00\x00"
RECORD_HEADER_SIZE = 24
#: Where a record's template instance (and so its key) starts: right after the record header.
KEY_AT = RECORD_HEADER_SIZE

_RECORD_HEAD = struct.Struct("<4sIQQ").unpack_from  # magic, size, record ID, written FILETIME
_U32 = struct.Struct("<I").unpack_from

#: Record offsets, sizes, record IDs and written FILETIMEs of a chunk, in chunk order.
Records = tuple[list[int], list[int], list[int], list[int]]


def walk(data: bytes, free: int, length: int) -> Records | None:
    """The records of a chunk whose walk raises no doubt, or None (then the complete walk must run).

    ``data`` is the 64 KiB chunk, ``free`` its free-space offset (already checked to lie within the
    chunk), ``length`` the bytes the file really holds of it.  A record is taken when it starts with the
    record magic, its size is at least a header plus the size copy, it ends inside the chunk and inside
    ``length``, and its last four bytes repeat its size.  The walk ends cleanly where fewer than a header
    and a size copy are left before ``free``, or where only zero bytes remain before ``free``."""
    starts: list[int] = []
    sizes: list[int] = []
    record_ids: list[int] = []
    written: list[int] = []
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
    return starts, sizes, record_ids, written


def record_keys(data: bytes, starts: Sequence[int], key_length: int) -> list[bytes]:
    """Each record's key: the ``key_length`` chunk bytes from its template instance on (a record shorter
    than that gives bytes of the next one; callers compare keys with record sizes)."""
    return [data[p + KEY_AT : p + KEY_AT + key_length] for p in starts]


def pick(
    data: bytes,
    starts: Sequence[int],
    keys: Sequence[bytes],
    event_id_at: dict[bytes, int],
    wanted: frozenset[bytes],
) -> list[bool]:
    """Per record: whether the two bytes at its key's EventID offset (``event_id_at[key]``, from the
    record start) are one of ``wanted``.  A negative offset means the key cannot say: False here, and the
    caller decides those records one by one."""
    if b"" not in wanted:  # always, in the reader: then one comprehension does it
        # A key that cannot say gets an offset past the end of ``data`` for every record: an empty slice.
        nowhere = len(data) - min(0, min(starts, default=0))
        at = {k: nowhere if v < 0 else v for k, v in event_id_at.items()}
        return list(
            map(wanted.__contains__, [data[(q := p + at[k]) : q + 2] for p, k in zip(starts, keys, strict=True)])
        )
    out: list[bool] = []
    append = out.append
    for p, key in zip(starts, keys, strict=True):
        at = event_id_at[key]
        if at < 0:
            append(False)
        else:
            q = p + at
            append(data[q : q + 2] in wanted)
    return out


try:  # the native translation, when it was built (pip install builds it where a C compiler exists)
    from analyzer.readers._chunkscan import (  # type: ignore[import-not-found,no-redef]  # noqa: F401
        pick,
        record_keys,
        walk,
    )

    NATIVE = True
except ImportError:
    NATIVE = False
