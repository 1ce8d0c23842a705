"""Byte mutations for damaged-evidence fuzzing (used by the hypothesis tests and the no-atheris engine).

Each mutation is what happens to real evidence: truncation (mail size limits, a copy of a live log),
bit flips (old tapes), inserted or lost bytes (text-mode FTP), spliced halves of two files, and
length or offset fields overwritten with boundary values.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence

INTERESTING_32 = (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
KINDS = ("truncate", "bitflip", "insert", "delete", "splice", "interesting", "length", "zero_run")


def mutate_once(data: bytes, rng: random.Random, others: Sequence[bytes] = (), kind: str | None = None) -> bytes:
    """One mutation of ``data`` (``kind`` forces which one)."""
    if not data:
        return bytes([rng.randrange(256)])
    kind = kind or rng.choice(KINDS)
    n = len(data)
    pos = rng.randrange(n)
    buf = bytearray(data)
    if kind == "truncate":
        return bytes(buf[:pos])
    if kind == "bitflip":
        for _ in range(rng.choice((1, 1, 2, 8))):
            at = rng.randrange(n)
            buf[at] ^= 1 << rng.randrange(8)
        return bytes(buf)
    if kind == "insert":
        blob = rng.choice((b"\x00", b"\xff" * 4, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))))
        return bytes(buf[:pos] + blob + buf[pos:])
    if kind == "delete":
        return bytes(buf[:pos] + buf[pos + rng.randrange(1, 64) :])
    if kind == "splice" and others:
        other = rng.choice(others)
        cut = rng.randrange(len(other) + 1)
        return bytes(buf[:pos]) + other[cut:]
    if kind in ("interesting", "splice"):
        value = rng.choice(INTERESTING_32)
        width = rng.choice((1, 2, 4, 4, 8))
        raw = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        buf[pos : pos + width] = raw
        return bytes(buf[:n])
    if kind == "length":
        # a 32-bit little-endian field set to a length/offset near the file size
        value = rng.choice((n, n - pos, n + 1, n * 2, pos, 0x10000, 0x30)) & 0xFFFFFFFF
        at = pos & ~3
        buf[at : at + 4] = struct.pack("<I", value)
        return bytes(buf[:n])
    # zero_run
    end = min(n, pos + rng.choice((4, 16, 512, 4096)))
    buf[pos:end] = bytes(end - pos)
    return bytes(buf)


def mutate(data: bytes, rng: random.Random, others: Sequence[bytes] = (), rounds: int | None = None) -> bytes:
    """1-4 stacked mutations."""
    for _ in range(rounds or rng.choice((1, 1, 2, 3, 4))):
        data = mutate_once(data, rng, others)
    return data
