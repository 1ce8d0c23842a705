"""Tar archives, plain or compressed (.tar, .tgz/.tar.gz, .tar.bz2, .tar.xz), with stdlib ``tarfile``.

A tar has no directory: members are checked one by one as the stream goes by (count and declared
size before any byte of a member is written), never all loaded first.  Links, device files and
FIFOs are reported and skipped; tarfile's own extraction is never used.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from analyzer.archives.compressed import open_stream
from analyzer.archives.detect import is_tar_header
from analyzer.archives.safety import Extraction, Member, Refused
from analyzer.model import exception_line

_MODES = {"tar": "r|", "gzip": "r|gz", "bzip2": "r|bz2", "xz": "r|xz"}  # stream modes: never seek back


def extract(path: str, x: Extraction, compression: str = "tar") -> None:
    try:
        tf = tarfile.open(path, mode=_MODES[compression])  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise Refused(f"corrupt tar archive ({exception_line(exc)})") from None
    with tf:
        try:
            while True:
                info = tf.next()
                if info is None:
                    break
                tf.members = []  # keep memory flat: headers already handled are not needed again
                m = _member(tf, info)
                if m.kind == "dir":
                    continue
                x.count(m)
                x.copy(m)
        except Refused:
            raise
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:  # damaged stream: keep what was read
            x.fail(f"{x.display}: tar archive damaged after {len(x.files)} member(s) ({exception_line(exc)})")


def _member(tf: tarfile.TarFile, info: tarfile.TarInfo) -> Member:
    if info.isdir():
        kind = "dir"
    elif info.issym():
        kind = "symlink"
    elif info.islnk():
        kind = "hardlink"
    elif info.ischr() or info.isblk():
        kind = "device"
    elif info.isfifo():
        kind = "fifo"
    elif info.isreg():
        kind = "file"
    else:
        kind = "socket"

    @contextmanager
    def opener() -> Iterator[BinaryIO]:
        src = tf.extractfile(info)
        if src is None:
            raise OSError("no data")
        with src:
            yield src

    return Member(info.name, info.size, kind=kind, open=opener)


def holds_tar(path: str, compression: str) -> bool:
    """True when a gzip/bzip2/xz stream starts with a tar header (read: at most its first 512 bytes)."""
    try:
        with open_stream(path, compression) as stream:
            return is_tar_header(stream.read(512))
    except Exception:  # damaged stream: the single-file reader reports it
        return False
