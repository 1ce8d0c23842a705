"""The one untrusted-archive safety layer every archive kind goes through.

Why one layer: the rules against hostile archives must not drift apart per format.  A format module
describes its members (``Member``) and hands over their bytes; this module alone decides

* which members are extracted: regular files only -- links (symbolic, hard, junctions), device
  files, FIFOs and sockets are reported and skipped; encrypted members are reported and not read;
* where they go: a sanitised relative path (``names.safe_member_parts``) inside the archive's own
  temp folder, created with ``O_EXCL``/``O_NOFOLLOW`` and checked to stay below it;
* how much: member count, total size per case, size per member and expansion ratio, first on what
  the archive declares (before a byte is written) and again on the bytes actually produced
  (a lying header or a stream-only format such as tar.gz or a bare .gz is caught while streaming).

Breaking a cap raises ``Refused``: the whole archive is dropped.  A member that cannot be read is
kept with what could be recovered and a ``problem``.  A kind or method that cannot be read at all
(RAR, LZX cabinets …) raises ``Unsupported``: one line, and the case goes on.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import BinaryIO

from analyzer.archives.budget import Budget as Budget  # spent here; every case holds one
from analyzer.archives.names import safe_member_parts, unique_name
from analyzer.limits import CaseLimits
from analyzer.model import exception_line

CHUNK = 1 << 20
GiB = 1 << 30
MiB = 1 << 20

Opener = Callable[[], AbstractContextManager[BinaryIO]]


class Refused(Exception):
    """An archive broke a cap or could not be opened; it is dropped as a whole."""


class Unsupported(Exception):
    """An archive kind or compression method this tool cannot read (the case goes on without it)."""


@dataclass
class Member:
    """One archive member as the format describes it (nothing read yet)."""

    name: str  # as stored in the archive
    size: int | None  # declared uncompressed size; None when the format does not declare it upfront
    packed: int | None = None  # declared compressed size; None when unknown (solid blocks, streams)
    kind: str = "file"  # file | dir | symlink | hardlink | device | fifo | socket
    encrypted: bool = False
    crc32: int | None = None  # declared CRC-32, checked while copying when given
    open: Opener | None = None  # yields a binary stream of the member's bytes


@dataclass
class Extracted:
    """A member written to disk: where, its hash and size, and what went wrong reading it."""

    name: str  # the member name as stored
    rel: str  # sanitised relative path (display, below the archive)
    target: str  # file on disk
    sha256: str
    size: int
    problem: str | None = None


_SKIPPED_KINDS = {
    "symlink": "symbolic link",
    "hardlink": "hard link",
    "device": "device file",
    "fifo": "special file",
    "socket": "special file",
}


@dataclass
class Extraction:
    """One archive being extracted into ``dest`` under the case ``budget``.

    ``warn`` receives what the user should know; ``fail`` what makes the archive hostile or damaged
    (triage then shows the case as an error row)."""

    budget: Budget
    label: str  # "zip", "cab", "7z", "tar", "gzip" … as used in messages
    display: str  # the archive as shown to the user
    archive_size: int  # bytes of the archive file (the ratio cap of stream formats)
    dest: str
    warn: Callable[[str], None]
    fail: Callable[[str], None]
    files: list[Extracted] = field(default_factory=list)
    expanded: int = 0  # bytes produced from this archive so far
    _used: set[str] = field(default_factory=set)

    @property
    def limits(self) -> CaseLimits:
        return self.budget.limits

    # -- caps on what the archive declares --
    def check_declared(self, members: list[Member]) -> None:
        """Caps on the member list, before a single byte is written (formats with a directory)."""
        lim = self.limits
        self.budget.members += len(members)
        if self.budget.members > lim.max_members:
            raise Refused(f"too many members ({self.budget.members} in the case, limit {lim.max_members})")
        total = sum(m.size or 0 for m in members)
        if self.budget.extracted + total > lim.max_total_size:
            raise Refused(
                f"uncompressed size {size_text(self.budget.extracted + total)} exceeds the case limit "
                f"{size_text(lim.max_total_size)}"
            )
        known = [m.packed for m in members if m.packed is not None]
        packed = sum(known) if len(known) == len(members) else self.archive_size
        if total > lim.ratio_min_size and total > lim.max_ratio * max(packed, 1):
            raise Refused(
                f"{self.label} bomb suspected: expands {total / max(packed, 1):.0f}x (limit {lim.max_ratio:g}x)"
            )
        for m in members:
            self.check_member_size(m)

    def check_member_size(self, m: Member) -> None:
        lim = self.limits
        if m.size is None:
            return
        if m.size > lim.max_member_size:
            raise Refused(f"member {m.name!r} is {size_text(m.size)} (limit {size_text(lim.max_member_size)} per file)")
        if m.packed is not None and m.size > lim.ratio_min_size and m.size > lim.max_ratio * max(m.packed, 1):
            raise Refused(
                f"{self.label} bomb suspected: member {m.name!r} expands "
                f"{m.size / max(m.packed, 1):.0f}x (limit {lim.max_ratio:g}x)"
            )
        if self.budget.extracted + m.size > lim.max_total_size:
            raise Refused(f"uncompressed size exceeds the case limit {size_text(lim.max_total_size)}")

    def count(self, m: Member) -> None:
        """Stream formats (tar): count one more member and check its declared size as it comes."""
        self.budget.members += 1
        if self.budget.members > self.limits.max_members:
            raise Refused(f"too many members ({self.budget.members} in the case, limit {self.limits.max_members})")
        self.check_member_size(m)

    # -- which members, and where --
    def admit(self, m: Member) -> str | None:
        """The safe relative path for a member, or None when it is skipped (and said so)."""
        if m.kind == "dir":
            return None
        if m.kind in _SKIPPED_KINDS:
            self.fail(f"{self.display}: member {m.name!r} is a {_SKIPPED_KINDS[m.kind]}; skipped")
            return None
        parts, unsafe = safe_member_parts(m.name)
        if not parts:
            self.fail(f"{self.display}: member {m.name!r} has no usable name; skipped")
            return None
        rel = unique_name("/".join(parts), self._used)
        if unsafe:
            self.fail(f"{self.display}: member {m.name!r} tries to escape the archive folder; extracted as {rel!r}")
        if m.encrypted:
            self.warn(f"{self.display}: member {m.name!r} is encrypted (password-protected); not read")
            return None
        return rel

    def create(self, m: Member, rel: str) -> MemberWriter | None:
        """An exclusive new file for ``rel`` below ``dest`` (None, said so, when it cannot be made)."""
        target = os.path.join(self.dest, *rel.split("/"))
        real_dest = os.path.realpath(self.dest)
        if os.path.commonpath([os.path.realpath(os.path.dirname(target)), real_dest]) != real_dest:
            self.fail(f"{self.display}: member {m.name!r} resolves outside the temp folder; skipped")
            return None  # defence in depth: cannot happen with sanitised parts
        try:
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:
            self.warn(f"{self.display}: member {m.name!r} cannot be extracted ({exc.strerror or exc}); skipped")
            return None
        return MemberWriter(self, m, rel, target, os.fdopen(fd, "wb"))

    def copy(self, m: Member) -> None:
        """Admit, create and stream one member (pull formats: zip, cab, tar, single files)."""
        rel = self.admit(m)
        if rel is None or m.open is None:
            return
        writer = self.create(m, rel)
        if writer is None:
            return
        problem: str | None = None
        try:
            with m.open() as src:
                while chunk := src.read(CHUNK):
                    writer.write(chunk)
        except Refused:
            writer.abort()
            raise
        except Exception as exc:  # a damaged member never stops the case: keep what was read
            problem = exception_line(exc)
        writer.finish(problem)


class MemberWriter:
    """Writes one member's bytes while hashing them and counting them against every cap."""

    def __init__(self, x: Extraction, m: Member, rel: str, target: str, out: BinaryIO) -> None:
        self.x, self.member, self.rel, self.target, self.out = x, m, rel, target, out
        self.digest = hashlib.sha256()
        self.crc = 0
        self.size = 0

    def write(self, chunk: bytes) -> int:
        x, lim, n = self.x, self.x.limits, len(chunk)
        self.size += n
        x.expanded += n
        x.budget.extracted += n
        declared = self.member.size
        if (declared is not None and self.size > declared) or self.size > lim.max_member_size:
            raise Refused(f"member {self.member.name!r} expands beyond its declared size")
        if x.budget.extracted > lim.max_total_size:
            raise Refused(f"uncompressed size exceeds the case limit {size_text(lim.max_total_size)}")
        if x.expanded > lim.ratio_min_size and x.expanded > lim.max_ratio * max(x.archive_size, 1):
            raise Refused(
                f"{x.label} bomb suspected: expands beyond {lim.max_ratio:g}x its "
                f"{size_text(x.archive_size)} (limit {lim.max_ratio:g}x)"
            )
        self.digest.update(chunk)
        if self.member.crc32 is not None:
            self.crc = zlib.crc32(chunk, self.crc)
        self.out.write(chunk)
        return n

    def abort(self) -> None:
        self.out.close()

    def finish(self, problem: str | None = None) -> None:
        """Close the file and record it; a member with nothing readable is removed and reported."""
        self.out.close()
        m = self.member
        if problem is None and m.crc32 is not None and self.crc != m.crc32:
            problem = f"CRC-32 mismatch (0x{self.crc:08x}, archive says 0x{m.crc32:08x})"
        elif problem is None and m.size is not None and self.size != m.size:
            problem = f"{self.size} of {m.size} bytes"
        if problem and self.size == 0:
            os.unlink(self.target)
            self.x.warn(f"{self.x.display}: member {m.name!r} cannot be read ({problem}); skipped")
            return
        self.x.files.append(Extracted(m.name, self.rel, self.target, self.digest.hexdigest(), self.size, problem))


def size_text(n: int) -> str:
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
