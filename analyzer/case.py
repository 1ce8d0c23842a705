"""One case = the files, folders and .zip archives a customer sent, loaded safely.

Why this module exists: customer archives are untrusted.  A zip member may be named ``../x``,
``/etc/x`` or ``C:\\x``, may be a symbolic link, may expand a thousandfold (zip bomb) or hold
another zip inside a zip.  ``open_case`` turns all inputs into a flat, deterministic list of
``CaseInput`` (display path, file on disk, sniffed format, SHA-256, size) and never lets an archive
write outside its own temporary directory, which is removed on exit -- also on exceptions.

Problems with an archive never raise: they end up in ``Case.warnings`` (everything worth telling
the user) and, when the archive is hostile or damaged, also in ``Case.errors`` (triage turns such a
case into an error row).  ``open_case`` raises ``InputError`` only when none of the paths exists.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.limits import CaseLimits, human
from analyzer.model import InputError, exception_line
from analyzer.sniff import sniff
from analyzer.walk import sha256_file, walk_folder

CHUNK = 1 << 20
GiB = 1 << 30
MiB = 1 << 20
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
# Hive transaction logs: the name of the hive plus .LOG/.LOG1/.LOG2 (NT 4.0 to Windows 10).
_LOG_NAME = re.compile(r"^(?P<hive>.+)\.log[12]?$", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")
_BAD_CHARS = re.compile(r'[\x00-\x1f\x7f:*?"<>|]')
_MAX_PART_BYTES = 200


@dataclass
class CaseInput:
    """One file of a case (a plain file, or a zip member extracted to a temp file)."""

    path: str  # display path: relative to the case root folder / zip, or the file name as given
    real_path: str  # file on disk to open (a temp extraction for zip members); never modified
    format: str | None  # sniffed format, None if unusable (or a hive transaction log, see ``note``)
    sha256: str
    size: int
    error: str | None = None  # one-line reason when unusable ("not an event log (…)")
    warnings: list[str] = field(default_factory=list)
    records: int = 0  # filled by the diagnosis (events read / values read)
    note: str | None = None  # e.g. "transaction log of SYSTEM": unused on its own, but not an error


@dataclass
class Case:
    """What ``open_case`` yields: the inputs in a stable order plus case-level messages."""

    name: str  # folder name, or zip name without .zip, or first file's stem
    root: str  # what was given (first path)
    inputs: list[CaseInput]
    warnings: list[str]  # case-level (skipped members, caps hit, encrypted members …)
    errors: list[str] = field(default_factory=list)  # subset of warnings: hostile/damaged archive (triage: error row)

    @property
    def usable(self) -> list[CaseInput]:
        """Inputs a reader can open (format known, no error)."""
        return [i for i in self.inputs if i.format is not None and i.error is None]


class _Refused(Exception):
    """An archive broke a cap or could not be opened; it is dropped as a whole."""


@contextmanager
def open_case(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, limits: CaseLimits | None = None
) -> Iterator[Case]:
    """Files, folders (recursive) and .zip archives together form one case.

    Zip members are extracted safely into a temp dir that is removed on exit.  Each file is sniffed
    (``analyzer.sniff.sniff``, by content) and hashed.  Raises InputError only when no path exists at all.
    """
    items = [os.fspath(paths)] if isinstance(paths, str | os.PathLike) else [os.fspath(p) for p in paths]
    if not items:
        raise InputError("<case>", "no input given")
    missing = [p for p in items if not os.path.lexists(p)]
    if len(missing) == len(items):
        raise InputError(items[0], "no such file or directory")
    loader = _Loader(limits or CaseLimits(), single=len(items) == 1)
    try:
        for p in items:
            if p in missing:
                loader.warn(f"{p}: no such file or directory")
                continue
            loader.add_path(p)
        loader.finish()
        yield Case(
            name=case_name(items[0]),
            root=items[0],
            inputs=loader.inputs,
            warnings=loader.warnings,
            errors=loader.errors,
        )
    finally:
        loader.cleanup()


def case_name(path: str) -> str:
    """Folder name, zip name without ``.zip``, or the file's stem."""
    p = Path(os.path.abspath(path))
    if p.is_dir():
        return p.name or "case"
    if p.suffix.lower() == ".zip":
        return p.name[: -len(p.suffix)] or p.name
    return p.stem or p.name


def is_zip(path: str) -> bool:
    """True when the file's content is a zip archive (whatever its name)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in ZIP_MAGICS
    except OSError:
        return False


def safe_member_parts(name: str) -> tuple[list[str], bool]:
    """Split a zip member name into safe path parts; the flag says whether the name tried to escape.

    ``/`` and ``\\`` both separate; ``.``/``..``/empty parts, a leading root and a drive letter are
    dropped; control characters and ``:*?"<>|`` become ``_``; each part is cut to 200 bytes.
    """
    unsafe = name.startswith(("/", "\\")) or bool(_DRIVE.match(name))
    parts: list[str] = []
    for raw in re.split(r"[/\\]+", name):
        if raw == "..":
            unsafe = True
            continue
        if raw in ("", "."):
            continue
        if _DRIVE.fullmatch(raw) and not parts:
            continue
        part = _BAD_CHARS.sub("_", raw).strip()
        if part in ("", ".", ".."):
            part = "_"
        while len(part.encode("utf-8")) > _MAX_PART_BYTES:
            part = part[:-1]
        parts.append(part)
    return parts, unsafe


class _Loader:
    """Collects the inputs of one case; owns the temp dir of extracted archives."""

    def __init__(self, limits: CaseLimits, *, single: bool) -> None:
        self.limits = limits
        self.single = single
        self.inputs: list[CaseInput] = []
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self.tmp: str | None = None
        self.members = 0
        self.extracted = 0
        self._seen: set[str] = set()
        self._archives = 0

    # -- messages --
    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def fail(self, message: str) -> None:
        self.warnings.append(message)
        self.errors.append(message)

    # -- walking --
    def add_path(self, given: str) -> None:
        base = os.path.basename(os.path.normpath(given)) or given
        if os.path.isdir(given):
            prefix = "" if self.single else base
            self._add_folder(given, prefix)
        else:
            self._add_file(given, base, from_walk=False)

    def _add_folder(self, folder: str, prefix: str) -> None:
        """Every file below ``folder``, ordered by relative path; links and unreadable folders are reported."""
        listing = walk_folder(folder)
        for rel in listing.links:
            kind = "symbolic link to a folder" if os.path.isdir(os.path.join(folder, rel)) else "symbolic link"
            self.warnings.append(f"{_join(prefix, rel)}: {kind}, not followed")
        for rel, reason in listing.unreadable:
            self.warnings.append(f"{_join(prefix, rel)}: folder not read ({reason}); files in it are missing")
        for rel, real in listing.files:
            self._add_file(real, _join(prefix, rel), from_walk=True)

    def _add_file(self, real: str, display: str, *, from_walk: bool) -> None:
        if from_walk and os.path.islink(real):
            self.warn(f"{display}: symbolic link, not followed")
            return
        try:
            st = os.stat(real)
        except OSError as exc:
            self.inputs.append(CaseInput(display, real, None, "", 0, error=f"cannot open: {exc.strerror or exc}"))
            return
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            self.inputs.append(CaseInput(display, real, None, "", 0, error="not a regular file"))
            return
        limit = self.limits.max_file_size
        if limit is not None and st.st_size > limit:  # refused from stat: never hashed or read
            self.inputs.append(CaseInput(display, real, None, "", st.st_size, error=_too_big(st.st_size, limit)))
            return
        key = os.path.realpath(real)
        if key in self._seen:
            return
        self._seen.add(key)
        if is_zip(real):
            self._add_archive(real, display, prefix="" if self.single and not from_walk else display, depth=0)
            return
        self.inputs.append(self._describe(real, display))

    def _describe(self, real: str, display: str, digest: str | None = None, size: int | None = None) -> CaseInput:
        """Hash and sniff one file; unusable content becomes ``error``, never an exception."""
        if digest is None or size is None:
            try:
                digest, size = sha256_file(real)
            except OSError as exc:
                return CaseInput(display, real, None, "", 0, error=f"cannot read: {exc.strerror or exc}")
        item = CaseInput(display, real, None, digest, size)
        hive = _transaction_log_of(real)
        if hive is not None:
            item.note = f"transaction log of {hive}"
            return item
        try:
            item.format = sniff(real)
        except InputError as exc:
            if _is_documentation(display):
                item.note = "documentation, not evidence: not read"
                item.sha256 = ""  # not evidence, so no hash in the evidence trail
            else:
                item.error = exc.reason
        except Exception as exc:  # a detector bug must not stop a case; say what happened
            item.error = f"format detection failed ({type(exc).__name__}: {exc})"
        return item

    # -- archives --
    def _tmpdir(self) -> str:
        if self.tmp is None:
            self.tmp = tempfile.mkdtemp(prefix="analyzer-case-")
        return self.tmp

    def _add_archive(self, real: str, display: str, *, prefix: str, depth: int) -> None:
        """Extract a zip into its own temp subfolder; on refusal drop everything it produced."""
        self._archives += 1
        dest = os.path.join(self._tmpdir(), f"z{self._archives:04d}")
        os.mkdir(dest, 0o700)
        mark_inputs, mark_members, mark_size = len(self.inputs), self.members, self.extracted
        try:
            try:
                zf = zipfile.ZipFile(real)
            except (
                zipfile.BadZipFile,
                zipfile.LargeZipFile,
                OSError,
                ValueError,
                EOFError,
                NotImplementedError,
            ) as exc:
                raise _Refused(f"corrupt zip archive ({exception_line(exc)})") from None
            with zf:
                infos = zf.infolist()
                self._check_declared(infos)
                used: set[str] = set()
                for info in sorted(infos, key=lambda i: i.filename):
                    self._extract_member(zf, info, display, dest, prefix, depth, used)
        except _Refused as exc:
            del self.inputs[mark_inputs:]
            self.members, self.extracted = mark_members, mark_size
            shutil.rmtree(dest, ignore_errors=True)
            self.fail(f"{display}: {exc}")
            try:
                digest, size = sha256_file(real)
            except OSError:
                digest, size = "", 0
            self.inputs.append(CaseInput(display, real, None, digest, size, error=str(exc)))

    def _check_declared(self, infos: list[zipfile.ZipInfo]) -> None:
        """Caps on what the central directory declares, before a single byte is written."""
        lim = self.limits
        self.members += len(infos)
        if self.members > lim.max_members:
            raise _Refused(f"too many members ({self.members} in the case, limit {lim.max_members})")
        total = sum(i.file_size for i in infos)
        if self.extracted + total > lim.max_total_size:
            raise _Refused(
                f"uncompressed size {_size(self.extracted + total)} exceeds the case limit {_size(lim.max_total_size)}"
            )
        packed = sum(i.compress_size for i in infos)
        if total > lim.ratio_min_size and total > lim.max_ratio * max(packed, 1):
            raise _Refused(f"zip bomb suspected: expands {total / max(packed, 1):.0f}x (limit {lim.max_ratio:g}x)")
        for i in infos:
            if i.file_size > lim.max_member_size:
                raise _Refused(
                    f"member {i.filename!r} is {_size(i.file_size)} (limit {_size(lim.max_member_size)} per file)"
                )
            if i.file_size > lim.ratio_min_size and i.file_size > lim.max_ratio * max(i.compress_size, 1):
                raise _Refused(
                    f"zip bomb suspected: member {i.filename!r} expands "
                    f"{i.file_size / max(i.compress_size, 1):.0f}x (limit {lim.max_ratio:g}x)"
                )

    def _extract_member(
        self,
        zf: zipfile.ZipFile,
        info: zipfile.ZipInfo,
        display: str,
        dest: str,
        prefix: str,
        depth: int,
        used: set[str],
    ) -> None:
        name = info.filename
        ftype = stat.S_IFMT(info.external_attr >> 16)  # Unix file type bits; 0 for DOS/Windows zips
        if name.endswith("/") or ftype == stat.S_IFDIR:  # not info.is_dir(): IndexError on an empty name
            return
        if ftype and ftype != stat.S_IFREG:
            kind = "symbolic link" if ftype == stat.S_IFLNK else "special file"
            self.fail(f"{display}: member {name!r} is a {kind}; skipped")
            return
        parts, unsafe = safe_member_parts(name)
        if not parts:
            self.fail(f"{display}: member {name!r} has no usable name; skipped")
            return
        rel = _unique("/".join(parts), used)
        if unsafe:
            self.fail(f"{display}: member {name!r} tries to escape the archive folder; extracted as {rel!r}")
        shown = _join(prefix, rel)
        if info.flag_bits & 0x1:
            self.warn(f"{display}: member {name!r} is encrypted (password-protected); not read")
            return
        target = os.path.join(dest, *rel.split("/"))
        if os.path.commonpath([os.path.realpath(os.path.dirname(target)), os.path.realpath(dest)]) != os.path.realpath(
            dest
        ):  # defence in depth: cannot happen with sanitised parts
            self.fail(f"{display}: member {name!r} resolves outside the temp folder; skipped")
            return
        try:
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:
            self.warn(f"{display}: member {name!r} cannot be extracted ({exc.strerror or exc}); skipped")
            return
        digest, size, problem = self._copy_member(zf, info, fd)
        if problem and size == 0:
            os.unlink(target)
            self.warn(f"{display}: member {name!r} cannot be read ({problem}); skipped")
            return
        if is_zip(target):
            if depth + 1 > self.limits.max_depth:
                self.warn(f"{shown}: zip archive nested more than {self.limits.max_depth} level(s) deep; not opened")
                self.inputs.append(
                    CaseInput(shown, target, None, digest, size, error="nested zip archive too deep; not opened")
                )
                return
            self._add_archive(target, shown, prefix=shown, depth=depth + 1)
            return
        item = self._describe(target, shown, digest, size)
        if problem:
            item.warnings.append(f"zip member damaged: {problem}; {size} bytes recovered")
        self.inputs.append(item)

    def _copy_member(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, fd: int) -> tuple[str, int, str | None]:
        """Stream one member to ``fd`` while hashing and counting against the caps."""
        digest = hashlib.sha256()
        size = 0
        problem: str | None = None
        lim = self.limits
        crc = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with zf.open(info) as src:
                    # zipfile checks the CRC on the read that returns the last bytes and then drops
                    # them; damaged evidence is still evidence, so check the CRC here instead.
                    if hasattr(src, "_expected_crc"):
                        src._expected_crc = None
                    while chunk := src.read(CHUNK):
                        size += len(chunk)
                        self.extracted += len(chunk)
                        if size > max(info.file_size, 0) or size > lim.max_member_size:
                            raise _Refused(f"member {info.filename!r} expands beyond its declared size")
                        if self.extracted > lim.max_total_size:
                            raise _Refused(f"uncompressed size exceeds the case limit {_size(lim.max_total_size)}")
                        digest.update(chunk)
                        crc = zlib.crc32(chunk, crc)
                        out.write(chunk)
                if crc != info.CRC:
                    problem = f"CRC-32 mismatch (0x{crc:08x}, archive says 0x{info.CRC:08x})"
                elif size != info.file_size:
                    problem = f"{size} of {info.file_size} bytes"
            except _Refused:
                raise
            except (
                zipfile.BadZipFile,
                zlib.error,
                EOFError,
                OSError,
                NotImplementedError,
                RuntimeError,
                ValueError,
            ) as exc:
                problem = exception_line(exc)
        return digest.hexdigest(), size, problem

    def finish(self) -> None:
        """Hive transaction logs are recognised by a same-named hive beside them, too."""
        by_dir: dict[str, dict[str, CaseInput]] = {}
        for item in self.inputs:
            by_dir.setdefault(os.path.dirname(item.real_path), {})[os.path.basename(item.real_path).casefold()] = item
        for item in self.inputs:
            if item.note or item.format == "hive":
                continue
            m = _LOG_NAME.match(os.path.basename(item.real_path))
            if not m:
                continue
            hive = by_dir[os.path.dirname(item.real_path)].get(m.group("hive").casefold())
            if hive is not None and hive.format == "hive":
                item.format, item.error = None, None
                item.note = f"transaction log of {os.path.basename(hive.path)}"

    def cleanup(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


def _transaction_log_of(path: str) -> str | None:
    """Hive name when ``path`` is a regf transaction log by name and magic ("DIRT" old, "HvLE" new)."""
    m = _LOG_NAME.match(os.path.basename(path))
    if not m:
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(516)
    except OSError:
        return None
    if head[:4] == b"regf" and head[512:516] in (b"DIRT", b"HvLE"):
        return m.group("hive")
    return None


def _too_big(size: int, limit: int) -> str:
    return f"file is {human(size)}, over the {human(limit)} limit (raise it with --max-file-size)"


def _join(*parts: str) -> str:
    return "/".join(p.replace(os.sep, "/") for p in parts if p and p != ".")


def _unique(rel: str, used: set[str]) -> str:
    """Two members may sanitise to the same name; the later one gets ``~2``, ``~3`` …"""
    candidate, n = rel, 1
    while candidate.casefold() in used:
        n += 1
        stem, dot, ext = rel.rpartition(".")
        candidate = f"{stem}~{n}.{ext}" if dot and "/" not in ext else f"{rel}~{n}"
    used.add(candidate.casefold())
    return candidate


def _size(n: int) -> str:
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


DOCUMENTATION_SUFFIXES = frozenset(
    {".md", ".pdf", ".doc", ".docx", ".rtf", ".htm", ".html", ".msg", ".eml", ".png", ".jpg", ".jpeg", ".gif", ".bmp"}
)


def _is_documentation(display: str) -> bool:
    """Case folders carry notes, mails and screenshots beside the evidence.  When such a file is not
    an export we recognise, it is listed as documentation instead of an unusable input (a broken
    AppEvent.Evt or .reg is still an error)."""
    name = display.replace("\\", "/").rsplit("/", 1)[-1].casefold()
    return name.startswith("readme") or os.path.splitext(name)[1] in DOCUMENTATION_SUFFIXES
