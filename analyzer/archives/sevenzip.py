"""7-Zip archives (.7z), read with ``py7zr``.

py7zr pushes decompressed bytes into writers it asks a factory for; the factory hands out the
safety layer's ``MemberWriter`` so every byte is counted against the caps as it is produced.  Only
members the safety layer admitted are extracted (py7zr's own path check is a second line: a name
it would refuse is never asked for).  An archive whose data is encrypted has every member reported
as encrypted; one whose names are encrypted too cannot even be listed and is reported as such.
"""

from __future__ import annotations

from typing import Any

from analyzer.archives.safety import Extraction, Member, MemberWriter, Refused, Unsupported
from analyzer.model import exception_line


def extract(path: str, x: Extraction) -> None:
    import py7zr  # imported on use: start-up stays fast for cases without 7z archives
    from py7zr.helpers import get_sanitized_output_path
    from py7zr.io import Py7zIO, WriterFactory

    class _Sink(Py7zIO):
        def __init__(self, writer: MemberWriter) -> None:
            self.writer = writer

        def write(self, s: bytes | bytearray) -> int:
            return self.writer.write(bytes(s))

        def read(self, size: int | None = None) -> bytes:
            return b""

        def seek(self, offset: int, whence: int = 0) -> int:
            return 0

        def seekable(self) -> bool:
            return False

        def flush(self) -> None:
            return None

        def size(self) -> int:
            return self.writer.size

        def close(self) -> None:
            if self.writer in pending:
                pending.remove(self.writer)
                self.writer.finish()

    class _Factory(WriterFactory):
        def create(self, filename: str) -> Py7zIO:
            writer = writers.get(filename)
            if writer is None:  # not admitted: count nothing, write nowhere
                raise Refused(f"7z member {filename!r} was not asked for")
            return _Sink(writer)

    writers: dict[str, MemberWriter] = {}
    pending: list[MemberWriter] = []
    with open(path, "rb") as fh:
        try:
            archive = py7zr.SevenZipFile(fh, mode="r")
        except py7zr.PasswordRequired:
            raise Unsupported("encrypted 7z archive (names hidden by a password): not read") from None
        except Exception as exc:  # Bad7zFile, a damaged header …
            raise Refused(f"corrupt 7z archive ({exception_line(exc)})") from None
        with archive:
            files = sorted(archive.files, key=lambda f: f.filename)
            members = [_member(f, encrypted=archive.needs_password()) for f in files]
            x.check_declared(members)
            targets: list[str] = []
            seen: set[str] = set()
            for m in members:
                rel = x.admit(m)
                if rel is None:
                    continue
                try:
                    key = get_sanitized_output_path(m.name, None).as_posix()
                except Exception:  # py7zr refuses the name: our sanitised copy is not worth the risk
                    x.fail(f"{x.display}: member {m.name!r} refused by the 7z reader; skipped")
                    continue
                if m.name in seen or key in writers:
                    x.warn(f"{x.display}: member {m.name!r} appears twice; the first copy is used")
                    continue
                seen.add(m.name)
                writer = x.create(m, rel)
                if writer is not None:
                    writers[key] = writer
                    pending.append(writer)
                    targets.append(m.name)
            if not targets:
                return
            try:
                archive.extract(targets=targets, factory=_Factory())
            except Refused:
                for w in pending:
                    w.abort()
                raise
            except Exception as exc:  # CRC error, damaged stream, unsupported method: keep what was read
                problem = exception_line(exc)
                if isinstance(exc, py7zr.exceptions.UnsupportedCompressionMethodError):
                    problem = f"compression method not supported ({problem})"
                for w in list(pending):
                    pending.remove(w)
                    w.finish(problem)
                return
            for w in list(pending):  # empty members are never opened by py7zr
                pending.remove(w)
                w.finish()


def _member(f: Any, *, encrypted: bool) -> Member:
    if f.is_directory and not f.is_junction:
        kind = "dir"
    elif f.is_symlink or f.is_junction:
        kind = "symlink"
    elif f.is_socket:
        kind = "socket"
    else:
        kind = "file"
    crc = f.crc32 if isinstance(f.crc32, int) else None
    return Member(f.filename, int(f.uncompressed or 0), f.compressed, kind=kind, encrypted=encrypted, crc32=crc)
