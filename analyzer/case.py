"""One case = the files, folders and archives (.zip, .cab, .7z, tarballs, .gz/.bz2/.xz) a customer sent, loaded safely.

Why this module exists: customer archives are untrusted.  A member may be named ``../x``,
``/etc/x`` or ``C:\\x``, may be a symbolic link, may expand a thousandfold (a bomb) or hold
another archive inside.  Every archive kind goes through the one safety layer of
``analyzer.archives`` (detected by content, not name).  ``open_case`` turns all inputs into a flat, deterministic list of
``CaseInput`` (display path, file on disk, sniffed format, SHA-256, size) and never lets an archive
write outside its own temporary directory, which is removed on exit -- also on exceptions.

Problems with an archive never raise: they end up in ``Case.warnings`` (everything worth telling
the user) and, when the archive is hostile or damaged, also in ``Case.errors`` (triage turns such a
case into an error row).  ``open_case`` raises ``InputError`` only when none of the paths exists.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PureWindowsPath
from typing import TYPE_CHECKING

# A case of plain files loads only what names archives and MPS Reports files; the archive safety
# layer and readers load when an archive is opened (``_Loader._add_archive``).
from analyzer.archives import mps
from analyzer.archives.budget import Budget
from analyzer.archives.detect import KIND_LABELS, archive_kind
from analyzer.limits import CaseLimits, human
from analyzer.model import InputError
from analyzer.sniff import sniff
from analyzer.walk import BackgroundHasher, PendingDigest, offering_taps, sha256_file, sha256_open, walk_folder

if TYPE_CHECKING:
    from analyzer.archives.safety import Extracted


def __getattr__(name: str) -> object:
    """``safe_member_parts`` is part of this module's interface (tests, older callers); it loads from
    ``analyzer.archives.names`` when asked for."""
    if name == "safe_member_parts":
        from analyzer.archives.names import safe_member_parts

        return safe_member_parts
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


CHUNK = 1 << 20
#: How far reading a case has got, for a progress bar: called with (bytes of the case read so far, bytes
#: of the case in all: the usable inputs' sizes).  Binary logs report as they go (each kept record's
#: offset), other inputs when they are read.
ReadProgress = Callable[[int, int], None]
# Hive transaction logs: the name of the hive plus .LOG/.LOG1/.LOG2 (NT 4.0 to Windows 10).
_LOG_NAME = re.compile(r"^(?P<hive>.+)\.log[12]?$", re.IGNORECASE)


#: Files at least this big are hashed on a background thread while the case is read (``_Digest``).
BACKGROUND_HASH_MIN = 8 << 20
#: Formats whose reader feeds the background hash the bytes it reads (``walk.PendingDigest.attach``), so
#: that a big file is read from disk once: the .evtx reader reads every byte of the file in order.
TAPPED_FORMATS = frozenset({"evtx"})


class _Digest:
    """``CaseInput.sha256``: the hex digest; for a big file hashed in the background (``walk.PendingDigest``)
    its first read waits for the hash, and fills in the size hashed too.

    Why a descriptor: the hash of a big log is computed while the log is read (the two overlap on a
    second core), yet every reader of ``sha256`` -- the JSON, triage's resume check -- sees a plain
    string, exactly the one ``sha256_file`` gives.  A hash that fails after the file was opened (a read
    error) leaves an empty digest and a warning on the input."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, item: CaseInput | None, owner: type | None = None) -> str:
        if item is None:  # no class-level default: the dataclass field stays a required one
            raise AttributeError(self.slot)
        value = item.__dict__[self.slot]
        if isinstance(value, PendingDigest):
            try:
                value, item.size = value.result()
            except OSError as exc:
                value = ""
                item.warnings.append(f"cannot read to hash: {exc.strerror or exc}")
            item.__dict__[self.slot] = value
        return value

    def __set__(self, item: CaseInput, value: str | PendingDigest) -> None:
        item.__dict__[self.slot] = value


@dataclass
class CaseInput:
    """One file of a case (a plain file, or a zip member extracted to a temp file)."""

    path: str  # display path: relative to the case root folder / zip, or the file name as given
    real_path: str  # file on disk to open (a temp extraction for zip members); never modified
    format: str | None  # sniffed format, None if unusable (or a hive transaction log, see ``note``)
    sha256: str = _Digest()  # type: ignore[assignment]  # hex digest; waits for a background hash (``_Digest``)
    size: int
    error: str | None = None  # one-line reason when unusable ("not an event log (…)")
    warnings: list[str] = field(default_factory=list)
    records: int = 0  # filled by the diagnosis (events read / values read)
    note: str | None = None  # e.g. "transaction log of SYSTEM": unused on its own, but not an error
    server: str | None = None  # server its name gives (MPS Reports' ``SERVER_`` prefix), None when it names none
    same_log_as: str | None = None  # display path of the binary log this text export copies (MPS Reports pairs)


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

    @property
    def usable_bytes(self) -> int:
        """Bytes the readers will go through: the total of a ``ReadProgress``."""
        return sum(i.size for i in self.usable)


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
        with offering_taps(loader.taps):  # the .evtx reader feeds the hash of a big log it reads in the block
            yield Case(
                name=case_name(items[0]),
                root=items[0],
                inputs=loader.inputs,
                warnings=loader.warnings,
                errors=loader.errors,
            )
        loader.settle()  # every digest is known when the case closes (a Diagnosis keeps its inputs)
    finally:
        loader.cleanup()


ARCHIVE_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".zip", ".cab", ".7z", ".tar", ".tgz", ".tbz2", ".txz", ".rar")


@contextmanager
def archive_members(path: str, formats: frozenset[str], *, limits: CaseLimits | None = None) -> Iterator[ArchiveView]:
    """The readable members of one archive whose format is in ``formats`` (for ``events``/``registry``).

    Each member is named ``<archive>/<member>``; the archive's own messages come back as ``warnings``
    and ``errors`` without the archive's name in front.  The extraction is removed on exit."""
    with open_case(path, limits=limits) as case:
        base = os.path.basename(os.path.normpath(path)) + ": "

        def bare(messages: list[str]) -> list[str]:
            return [m[len(base) :] if m.startswith(base) else m for m in messages]

        members = [(_join(path, i.path), i) for i in case.usable if i.format in formats]
        yield ArchiveView(members, bare(case.warnings), bare(case.errors))


@dataclass
class ArchiveView:
    """What ``archive_members`` yields."""

    members: list[tuple[str, CaseInput]]  # (display path "<archive>/<member>", input)
    warnings: list[str]
    errors: list[str]


def case_name(path: str) -> str:
    """Folder name, archive name without its archive suffix (``.zip``, ``.cab``, ``.tar.gz`` …), or the file's stem.

    A Windows path met on another system (``C:\\cases\\CASE-7.zip`` in a list written on a laptop) is
    split at its backslashes, so the name is ``CASE-7`` there as on Windows.
    """
    p = Path(os.path.abspath(path))
    if p.is_dir():
        return p.name or "case"
    w: PurePath = PureWindowsPath(p.name) if "\\" in p.name else p
    lower = w.name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lower.endswith(suffix) and len(w.name) > len(suffix):
            return w.name[: -len(suffix)]
    return w.stem or w.name


def is_zip(path: str) -> bool:
    """True when the file's content is a zip archive (whatever its name)."""
    return archive_kind(path) == "zip"


class _Loader:
    """Collects the inputs of one case; owns the temp dir of extracted archives."""

    def __init__(self, limits: CaseLimits, *, single: bool) -> None:
        self.limits = limits
        self.single = single
        self.inputs: list[CaseInput] = []
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self.tmp: str | None = None
        self.budget = Budget(limits)
        self._seen: set[str] = set()
        self._archives = 0
        self._hasher: BackgroundHasher | None = None
        self.taps: dict[str, PendingDigest] = {}  # file on disk -> its digest, waiting for the reader to feed it

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
        kind = archive_kind(real)
        if kind is not None:
            self._add_archive(real, display, kind, prefix="" if self.single and not from_walk else display, depth=0)
            return
        self.inputs.append(self._describe(real, display))

    def _describe(self, real: str, display: str, digest: str | None = None, size: int | None = None) -> CaseInput:
        """Hash and sniff one file; unusable content becomes ``error``, never an exception."""
        if digest is None or size is None:
            try:
                digest, size = self._hash(real)
            except OSError as exc:
                return CaseInput(display, real, None, "", 0, error=f"cannot read: {exc.strerror or exc}")
        item = self._sniffed(CaseInput(display, real, None, digest, size))
        if isinstance(digest, PendingDigest):
            if item.format in TAPPED_FORMATS and item.error is None:
                self.taps[real] = digest  # hashed from what its reader reads
            else:
                digest.detach()  # no reader will feed it: hashed from disk beside the reading, as it is
        return item

    def _sniffed(self, item: CaseInput) -> CaseInput:
        """``item`` with its format (or why it has none) filled in."""
        real, display = item.real_path, item.path
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

    def _hash(self, real: str) -> tuple[str | PendingDigest, int]:
        """The digest and size of a file; a big one is hashed on the background thread while the case is
        read (its size is the opened file's until the hash is done, then the size hashed, as before)."""
        fh = open(real, "rb")  # noqa: SIM115 - closed here, or by the hasher once the hash is done
        try:
            size = os.fstat(fh.fileno()).st_size
            if size < BACKGROUND_HASH_MIN:
                with fh:
                    return sha256_open(fh)
            if self._hasher is None:
                self._hasher = BackgroundHasher()
            return self._hasher.submit(fh, tap=True), size  # held until sniffed (``_describe``)
        except BaseException:
            fh.close()
            raise

    def settle(self) -> None:
        """Wait for the background hashes (each input's ``sha256`` is then a plain string)."""
        for item in self.inputs:
            _ = item.sha256

    # -- archives --
    def _tmpdir(self) -> str:
        if self.tmp is None:
            self.tmp = tempfile.mkdtemp(prefix="analyzer-case-")
        return self.tmp

    def _add_archive(self, real: str, display: str, kind: str, *, prefix: str, depth: int) -> None:
        """Extract one archive (any kind) into its own temp subfolder; on refusal drop all it produced."""
        self._archives += 1
        dest = os.path.join(self._tmpdir(), f"z{self._archives:04d}")
        os.mkdir(dest, 0o700)
        mark_inputs = len(self.inputs)
        mark_members, mark_size = self.budget.members, self.budget.extracted
        from analyzer.archives.extract import extract_archive  # the archive readers load for archives only
        from analyzer.archives.safety import Refused, Unsupported

        try:
            files = extract_archive(
                real, kind, display=display, dest=dest, budget=self.budget, warn=self.warn, fail=self.fail
            )
        except (Refused, Unsupported) as exc:
            del self.inputs[mark_inputs:]
            self.budget.members, self.budget.extracted = mark_members, mark_size
            shutil.rmtree(dest, ignore_errors=True)
            if isinstance(exc, Refused):
                self.fail(f"{display}: {exc}")
            else:  # not readable here: one line, and the case goes on with its other inputs
                self.warn(f"{display}: {exc}")
            try:
                digest, size = sha256_file(real)
            except OSError:
                digest, size = "", 0
            self.inputs.append(CaseInput(display, real, None, digest, size, error=str(exc)))
            return
        for f in files:
            self._add_member(f, KIND_LABELS[kind], prefix, depth)

    def _add_member(self, f: Extracted, label: str, prefix: str, depth: int) -> None:
        shown = _join(prefix, f.rel)
        nested = archive_kind(f.target)
        if nested is not None:
            if depth + 1 > self.limits.max_depth:
                name = KIND_LABELS[nested]
                self.warn(f"{shown}: {name} archive nested more than {self.limits.max_depth} level(s) deep; not opened")
                self.inputs.append(
                    CaseInput(
                        shown, f.target, None, f.sha256, f.size, error=f"nested {name} archive too deep; not opened"
                    )
                )
                return
            self._add_archive(f.target, shown, nested, prefix=shown, depth=depth + 1)
            return
        item = self._describe(f.target, shown, f.sha256, f.size)
        if f.problem:
            item.warnings.append(f"{label} member damaged: {f.problem}; {f.size} bytes recovered")
        self.inputs.append(item)

    def finish(self) -> None:
        """Hive transaction logs are recognised by a same-named hive beside them, too; MPS Reports
        names give each file its server and pair each log's .txt with its .evt."""
        names = mps.recognise(i.path for i in self.inputs)
        twins = mps.same_logs(names)
        for item in self.inputs:
            if item.path in names:
                item.server = names[item.path].server
                item.same_log_as = twins.get(item.path)
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
        if self._hasher is not None:  # after an error: hashes not finished are abandoned, the thread joined
            self._hasher.close()
            self._hasher = None
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


DOCUMENTATION_SUFFIXES = frozenset(
    {".md", ".pdf", ".doc", ".docx", ".rtf", ".htm", ".html", ".msg", ".eml", ".png", ".jpg", ".jpeg", ".gif", ".bmp"}
)


def _is_documentation(display: str) -> bool:
    """Case folders carry notes, mails and screenshots beside the evidence.  When such a file is not
    an export we recognise, it is listed as documentation instead of an unusable input (a broken
    AppEvent.Evt or .reg is still an error)."""
    name = display.replace("\\", "/").rsplit("/", 1)[-1].casefold()
    return name.startswith("readme") or os.path.splitext(name)[1] in DOCUMENTATION_SUFFIXES
