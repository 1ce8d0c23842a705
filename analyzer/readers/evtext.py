"""Event log text exports: Event Viewer "Save Log File As" text (.txt) and comma-delimited (.csv), the Event
Properties dialog's "Copy" text pasted into a file, and DUMPEL output.

Why a tolerant, line-oriented parser: customers hand over whatever their Event Viewer wrote, from NT 4.0
to Windows 2003, in ANSI or UTF-16, sometimes re-saved by an editor.  Only the field order is documented
(Date, Time, Source, Type, Category, Event, User, Computer, Description); NT 4.0's exact
layout is unverified.  So the reader accepts either separator, quoted or bare CSV fields, a header line or
none, and descriptions that span lines: a line starts a new entry only when it begins with a date and a
time followed by the separator; any other line continues the previous entry's description.

What each field becomes (``model.Event``):

* ``time_generated``: the export's local date and time.  Naive (zone unknown) unless ``tz`` is given, then
  converted to UTC.  ``time_written`` is None (exports show one time only).  Dates M/D/YYYY (or D/M/YYYY when
  the day is > 12, which then sticks for the file, with a warning), M/D/YY, D.M.YYYY, YYYY-MM-DD; times
  12-hour with AM/PM or 24-hour.
* ``type``: from the word ("Failure Audit") or DUMPEL's number.  ``category``: the number when the export
  shows one, else 0 ("None" or a category name such as "Logons": the model holds numbers only).
* ``sid``: what the export shows under User (a ``DOMAIN\\user`` name, or an ``S-1-...`` string), None for
  "N/A".  Event Viewer resolves SIDs to names when it can, so this is often not a SID at all.
* ``event_id`` and ``event_id_full``: the number shown (exports lose the high 16 bits).
* ``message`` / ``strings``: Event Viewer exports hold the rendered description, kept in ``message``.  When it
  is the "description ... could not be found" wrapper (KB 165959) the insertion strings are taken out of it
  and ``message`` is None; otherwise ``analyzer.messages.recover_strings`` parses the strings back for the
  events the rules read (e.g. 1023).  DUMPEL writes the insertion strings themselves (no message).
* ``record``: the entry's 1-based position in the file; ``offset``: byte offset of the entry's first line.

The "Copy" layout (``Event Type:``, ``Event Source:`` ... ``Description:``, optional ``Data:`` hex dump) is
reported as "evtxt" too; its blocks may follow a few lines of mail text, and its hex dump fills ``data``.
DUMPEL without -t separates everything by spaces: account names of two words (``NT AUTHORITY\\SYSTEM``) and
sources with spaces that the catalog knows are put back together, DN-shaped insertion strings of the logon
events are split at their ``/o=``, and other strings are kept as one (with a warning), because their
boundaries are lost.  Two-digit years are 19xx from 70 on, else 20xx.
"""

from __future__ import annotations

import codecs
import functools
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import BinaryIO

from analyzer import languages, messages
from analyzer.languages import Language
from analyzer.model import Event, EventFilter, EventType, InputError, ReadWarning, WarningSink, ignore_warning
from analyzer.readers.format import DEFAULT_OPTIONS, EVENTS, Format, ReadOptions
from analyzer.readers.text import Encoding, ReadNote, choose_encoding

KINDS = ("evtxt", "evcsv", "dumpel")
_TITLES = {"evtxt": "Event Viewer text export", "evcsv": "Event Viewer CSV export", "dumpel": "DUMPEL output"}
HEADER_FIELDS = ("date", "time", "source", "type", "category", "event", "user", "computer", "description")
MAX_LINE = 1 << 20  # characters; a longer "line" is not a text export and is dropped, not buffered
MAX_ENTRY = 4 << 20  # characters of one description spread over many lines
MAX_WARNINGS = 50  # per file; then one summary line

# Dates: 6/14/2002, 14/06/02, 14.06.2002, 2002/06/14 (Japanese), 2002-06-14, 14-6-2002 (Dutch).
_DATE = (
    r"\d{1,2}/\d{1,2}/\d{2,4}|\d{4}/\d{1,2}/\d{1,2}|\d{1,2}\.\d{1,2}\.\d{2,4}|\d{4}-\d{1,2}-\d{1,2}"
    r"|\d{1,2}-\d{1,2}-\d{2,4}"
)
_DATE_PARTS = re.compile(r"^(\d{1,4})([/.-])(\d{1,2})\2(\d+)$")
# Times: 3:04:05 PM, 15:04:05, 15.04.05 (Italian), 午後 3:04:05 (the AM/PM word before or after the time).
_AM_WORDS, _PM_WORDS = languages.ampm_words()
_AMPM = "|".join([r"[AaPp]\.?[Mm]\.?", *(re.escape(w) for w in (*_AM_WORDS, *_PM_WORDS) if not w.isascii())])
_TIME = rf"(?:(?:{_AMPM})\s*)?\d{{1,2}}[:.]\d{{2}}(?:[:.]\d{{2}})?(?:\s*(?:{_AMPM}))?"
_CLOCK = re.compile(
    rf"(?:(?P<pre>{_AMPM})\s*)?(?P<h>\d{{1,2}})[:.](?P<m>\d{{2}})(?:[:.](?P<s>\d{{2}}))?\s*(?P<post>{_AMPM})?"
)
_PM = frozenset(w.casefold() for w in _PM_WORDS)
_SIMPLE_CLOCK = re.compile(
    r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?(?: (?P<post>[AP]M))?"
)  # the usual shapes, fast
_UNSETTLED = (0, 0, 0)  # parse_date: the file's date order is not settled
_DATE_RE = re.compile(rf"^(?:{_DATE})$")
_TIME_RE = re.compile(rf"^(?:{_TIME})$")
# Start of an entry, per layout.  DUMPEL has numbers where Event Viewer has words.
_START = {
    "evtxt": re.compile(rf"^\ufeff?(?:{_DATE})\t(?:{_TIME})\t"),
    "evcsv": re.compile(rf'^\ufeff?"?(?:{_DATE})"?,"?(?:{_TIME})"?,'),
    "dumpel": re.compile(rf"^\ufeff?(?:{_DATE})[\t ]+(?:{_TIME})[\t ]+\d+[\t ]+\d+[\t ]+\d+(?:[\t ]|$)"),
}
_CSV_FIELD = re.compile(r'\s*(?:"((?:[^"]|"")*)"|([^,]*))\s*(?:,|$)')
_NA = frozenset({"n/a", "na", ""})
MAX_UNKNOWN_WORDS = 10  # distinct type words not understood that the language warning names
PRESCAN_DESCRIPTIONS = 50  # first descriptions (one line each) tried against localised texts before reading

# The "could not be found" wrapper.  NT 4.0: "... could not be found. It contains the following insertion
# string(s): a, b."; Windows 2000-2003: "... cannot be found. The local computer may not have ... The following
# information is part of the event: a, b."; Vista+: "... The following information was included with the
# event:" followed by one string per line.
_WRAPPER = re.compile(
    r"^\s*The\s+description\s+for\s+Event\s+ID\s*\(?\s*(?P<id>\d+)\s*\)?\s+(?:in|from)\s+Source\s*\(?\s*(?P<src>.*?)"
    r"\s*\)?\s+(?:could\s+not|cannot)\s+be\s+found\b",
    re.IGNORECASE | re.DOTALL,
)
_WRAPPER_MARKERS = re.compile(
    r"(?:It\s+contains\s+the\s+following\s+insertion\s+string\(s\)|The\s+following\s+information\s+is\s+part\s+of"
    r"\s+the\s+event|The\s+following\s+information\s+was\s+included\s+with\s+the\s+event)\s*:[ \t]*",
    re.IGNORECASE,
)


# The Event Properties dialog's "Copy" layout (Windows 2000-2003): labelled lines, one block per event.
_BLOCK_START = re.compile(r"^\s*Event\s+Type\s*:\s*\S", re.IGNORECASE)
_BLOCK_LABEL = re.compile(
    r"^\s*(Event\s+Type|Event\s+Source|Event\s+Category|Event\s+ID|Date|Time|User|Computer|Description|Data)\s*:"
    r"\s?(.*)$",
    re.IGNORECASE,
)
_START_ANY = re.compile("|".join(p.pattern for p in _START.values()))
_LOOKAHEAD = 20  # non-empty lines searched for the start of an event-details block
_BLOCK_REQUIRED = ("event source", "event id", "date", "time")
_STRINGS_PER_LINE = re.compile(
    r"The\s+following\s+information\s+was\s+included\s+with\s+the\s+event\s*:", re.IGNORECASE
)
_MORE_INFO = re.compile(r"^\s*For\s+more\s+information,\s+see\s+Help\s+and\s+Support\s+Center\b", re.IGNORECASE)
_TRAILER = re.compile(r"^[\s\-=_*]*$")  # blank lines and separators pasted between blocks
_DATA_LINE = re.compile(r"^\s*[0-9a-fA-F]{4,8}:\s+((?:[0-9a-fA-F]{2}\s?)+|(?:[0-9a-fA-F]{8}\s?)+)(?:\s{2,}.*)?$")


def _data_line(line: str, out: bytearray) -> bool:
    """Append the bytes of one hex-dump line ("0000: 01 02 ..." bytes, or "0000: 0000001c ..." words,
    little-endian as the viewer shows DWORDs); False when the line is not a dump line."""
    match = _DATA_LINE.match(line)
    if match is None:
        return False
    items = match.group(1).split()
    if all(len(item) == 2 for item in items):
        out.extend(int(item, 16) for item in items)
    elif all(len(item) == 8 for item in items):
        for item in items:
            out.extend(int(item, 16).to_bytes(4, "little"))
    else:  # run-together digits ("0102030405060708090a"): neither bytes nor words, so not a dump line
        return False
    return True


def detect(text: str) -> str | None:
    """ "evtxt", "evcsv" or "dumpel" when the decoded head looks like that export, else None.

    Decided on the first non-empty line: a header naming the nine Event Viewer fields, or an entry whose
    fixed fields parse (so a random log file that merely starts with a date is not taken for an export);
    failing that, an Event Properties "Copy" block within the first lines ("evtxt").
    """
    lines = [line for line in text.lstrip("\ufeff").splitlines()[:200] if line.strip()][:_LOOKAHEAD]
    return _detect_lines(lines)


def _detect_lines(lines: list[str]) -> str | None:
    """``detect`` on the first non-empty lines.  A first line of nine or more tab- or comma-separated
    names that no language file knows is taken for the header of an uncovered language when the next
    line is an entry of that layout."""
    if not lines:
        return None
    first = lines[0].lstrip("\ufeff")
    header = _header_kind(first)
    if header:
        return header
    kind = _entry_kind(first)
    if kind:
        return kind
    if len(lines) > 1:
        for sep, kind in (("\t", "evtxt"), (",", "evcsv")):
            if first.count(sep) >= 8 and _entry_kind(lines[1]) == kind:
                return kind
    if _blocks_layout(lines):
        return "evtxt"  # the Event Properties "Copy" layout is Event Viewer text too
    return None


def _entry_kind(line: str) -> str | None:
    for kind in KINDS:
        if _START[kind].match(line) and _split_fixed(kind, line.lstrip("\ufeff")) is not None:
            return kind
    return None


def _blocks_layout(lines: list[str]) -> bool:
    """True when the first non-empty lines are, or soon reach, an event-details block: an ``Event Type:``
    line directly followed by ``Event Source:`` (text pasted above it, such as a mail, is allowed)."""
    if lines and _START_ANY.match(lines[0]):
        return False
    for first, second in itertools.pairwise(lines):
        if _BLOCK_START.match(first.lstrip("\ufeff")) and re.match(r"^\s*Event\s+Source\s*:", second, re.IGNORECASE):
            return True
    return False


def read(
    path: str,
    *,
    filters: EventFilter | None = None,
    options: ReadOptions = DEFAULT_OPTIONS,
    warn: WarningSink = ignore_warning,
    tz: tzinfo | None = None,
    encoding: str | None = None,
    kind: str | None = None,
    language: str | None = None,
) -> Iterator[Event]:
    """Stream the entries of an Event Viewer .txt/.csv export or DUMPEL output as Events.

    ``encoding`` is the ANSI code page for files without a BOM or UTF-16/UTF-8 signs (default: chosen by
    content among the code pages of the known languages); ``language`` (a code of ``analyzer.languages``)
    overrides the language found from the header, type words and descriptions; ``tz``, ``encoding`` and
    ``language`` override ``options.tz``, ``options.encoding`` and ``options.language``; ``kind`` skips
    detection.  Raises InputError when the file cannot be opened or is not such an export (or ``language``
    is not a known code); malformed lines are reported through ``warn`` (with their line number) and
    skipped.  A localised export, or one read with a code page chosen by content, says so through one
    ``ReadNote``.
    """
    language = language if language is not None else options.language
    try:
        lang = languages.get(language) if language else None
    except ValueError as exc:
        raise InputError(path, str(exc)) from None
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        raise InputError(path, f"cannot open: {exc.strerror or exc}") from None
    try:
        tz = tz if tz is not None else options.tz
        encoding = encoding if encoding is not None else options.encoding
        yield from _Parser(path, raw, filters, warn, tz, encoding, kind, lang).run()
    finally:
        raw.close()


def _read_as(kind: str) -> Callable[..., Iterator[Event]]:
    """The reader of one of the three text formats: ``read`` with detection skipped."""

    def read_kind(
        path: str,
        *,
        filters: EventFilter | None = None,
        options: ReadOptions = DEFAULT_OPTIONS,
        warn: WarningSink = ignore_warning,
    ) -> Iterator[Event]:
        return read(path, filters=filters, options=options, warn=warn, kind=kind)

    return read_kind


@functools.lru_cache(maxsize=4)
def _detected(text: str) -> str | None:
    return detect(text)  # once per head, though three formats ask


FORMATS = tuple(
    Format(kind, EVENTS, _TITLES[kind], _read_as(kind), detect=lambda text, kind=kind: _detected(text) == kind)
    for kind in KINDS
)


# --------------------------------------------------------------------------------------------- lines


def _open_codec(raw: BinaryIO, path: str, ansi: str | None) -> Encoding:
    """The file's encoding (codec without BOM handling, bytes to skip, how it was chosen); InputError for
    an unknown code page."""
    head = raw.read(8192)
    raw.seek(0)
    if ansi:
        try:
            ansi = codecs.lookup(ansi).name
        except LookupError:
            raise InputError(path, f"unknown encoding {ansi!r}") from None
    return choose_encoding(head, ansi, languages.signature_words())


def _lines(raw: BinaryIO, codec: str, skip: int, path: str, warn: WarningSink) -> Iterator[tuple[int, str]]:
    """(byte offset, text without line end) per line, splitting the bytes on the codec's newline so the
    offsets stay exact; lines longer than MAX_LINE are dropped with a warning instead of filling memory."""
    newline = "\n".encode(codec)
    unit = len(newline)
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    raw.seek(skip)
    offset = skip
    buf = b""
    too_long = False
    while True:
        chunk = raw.read(1 << 16)
        buf += chunk
        start = 0
        while True:
            idx = buf.find(newline, start)
            while idx != -1 and idx % unit:
                idx = buf.find(newline, idx + 1)
            if idx == -1:
                break
            end = idx + unit
            if too_long:
                too_long = False
            elif idx - start > MAX_LINE * unit:
                warn(ReadWarning(path, f"line longer than {MAX_LINE} characters skipped", offset))
            else:
                yield offset, _decode(decoder, buf[start:idx])
            offset += end - start
            start = end
        buf = buf[start:]
        if len(buf) > MAX_LINE * unit:
            if not too_long:
                warn(ReadWarning(path, f"line longer than {MAX_LINE} characters skipped", offset))
            offset += len(buf) - len(buf) % unit
            buf = buf[len(buf) - len(buf) % unit :]
            too_long = True
        if not chunk:
            break
    if buf and not too_long:
        last = _decode(decoder, buf)
        if last.strip(" \t\x1a\x00"):
            # Event Viewer and DUMPEL end every line; a last line without its end is a copy cut short,
            # and that line (read as it is) may hold half an event.
            warn(ReadWarning(path, "last line has no line end: the file may be cut short (a truncated copy?)", offset))
        yield offset, last


def _decode(decoder: codecs.IncrementalDecoder, data: bytes) -> str:
    decoder.reset()
    return decoder.decode(data, final=True).rstrip("\r")


# ------------------------------------------------------------------------------------------- parsing


@dataclass(slots=True)
class _Entry:
    line: int
    offset: int
    record: int
    fields: list[str]  # the eight fixed fields (Event Viewer and DUMPEL alike) as text
    rest: list[str]  # description lines (Event Viewer) or the string fields (DUMPEL)
    size: int  # characters so far (bounded by MAX_ENTRY)
    data: bytes = b""  # binary data (only the event-details layout shows it)


@dataclass(slots=True)
class _Block:
    """One event of the Event Properties "Copy" layout while it is being read."""

    line: int
    offset: int
    record: int
    labels: dict[str, str]
    section: str = "head"  # head | description | data | done
    description: list[str] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    size: int = 0


class _Parser:
    """One pass over one file: assemble entries from lines, convert, filter, yield."""

    def __init__(
        self,
        path: str,
        raw: BinaryIO,
        filters: EventFilter | None,
        warn: WarningSink,
        tz: tzinfo | None,
        encoding: str | None,
        kind: str | None,
        language: Language | None = None,
    ) -> None:
        self.path = path
        self.raw = raw
        self.filters = filters if filters is not None and not filters.empty else None
        self.sink = warn
        self.tz = tz
        self.encoding = encoding
        self.kind = kind
        self.warnings = 0
        self.given_language = language  # --language
        self.lang: Language | None = language  # decided before the entries are read (see ``prescan``)
        self.uncovered_header: str | None = None  # a header row no language file knows
        self.header_line = 0  # its line number
        self.unknown_types: dict[str, int] = {}  # type words no language knows -> first line
        self.orders: dict[str, str | None] = {}  # date separator -> dmy | mdy | ymd (None: not settled)
        self.dates: dict[str, tuple[int, int, int]] = {}  # date text -> (year, month, day), bounded
        self.record = 0  # entry starts seen (the record number of the current entry)
        self.readable = 0  # entries converted, whether or not the filters kept them
        self.types: dict[str, EventType] = {}
        self.spoken: dict[str, int] = {}  # languages of the localised descriptions read (wrappers, templates)
        self.lang_how = " (--language)" if language is not None else ""  # how the language was found, for the note
        self.english = language is not None and language.code == "en"  # then localised texts are not tried
        self.encoding_used: Encoding | None = None
        self.kind_read = ""  # type words seen so far
        self.warned_joined = False

    # -- warnings --
    def warn(self, message: str, offset: int | None) -> None:
        self.warnings += 1
        if self.warnings <= MAX_WARNINGS:
            self.sink(ReadWarning(self.path, message, offset))

    # -- driver --
    def run(self) -> Iterator[Event]:
        enc = _open_codec(self.raw, self.path, self.encoding)
        codec, skip = enc.codec, enc.bom
        # The look-ahead's warnings are held: the line formats read the file again from the start (and
        # warn then); only the block layout goes on with this pass and gets them.
        held: list[ReadWarning] = []
        live: list[bool] = []

        def look_sink(w: ReadWarning) -> None:
            self.sink(w) if live else held.append(w)

        lines: Iterator[tuple[int, tuple[int, str]]] = enumerate(_lines(self.raw, codec, skip, self.path, look_sink), 1)
        head: list[tuple[int, tuple[int, str]]] = []
        for item in lines:  # look ahead a little: pasted event details may follow a few lines of mail
            head.append(item)
            if sum(1 for _, (_, text) in head if text.strip()) >= _LOOKAHEAD:
                break
        texts = [text for _, (_, text) in head if text.strip()]
        if not texts:
            raise InputError(self.path, "empty text file (no events)")
        lines = itertools.chain(head, lines)
        if self.kind in (None, "evtxt") and _blocks_layout(texts):
            live.append(True)
            for w in held:
                self.sink(w)
            yield from self.run_blocks(lines)
            return
        kind = self.kind or _detect_lines([t.lstrip("\ufeff") for t in texts])
        if kind is None:
            first = next(item for item in head if item[1][1].strip())
            raise InputError(self.path, "not an Event Viewer text/CSV export or DUMPEL output", first[1][0])
        self.prescan(kind, _lines(self.raw, codec, skip, self.path, ignore_warning))
        self.encoding_used, self.kind_read = enc, kind
        lines = enumerate(_lines(self.raw, codec, skip, self.path, self.sink), 1)
        entry: _Entry | None = None
        skipping = False  # continuation lines of a malformed entry are dropped with it
        for lineno, (offset, line) in lines:
            if not line.strip() and entry is None:
                continue
            starts = _START[kind].match(line) is not None
            if lineno == self.header_line or (not starts and _header_kind(line)):
                continue  # a header line (exports pasted together may repeat it)
            if starts:
                if entry is not None:
                    yield from self.finish(kind, entry)
                    entry = None
                self.record += 1
                fields = _split_fixed(kind, line.lstrip("\ufeff"))
                skipping = fields is None
                if fields is None:
                    self.warn(f"line {lineno}: malformed {_NAMES[kind]} entry skipped", offset)
                    continue
                entry = _Entry(lineno, offset, self.record, fields[0], fields[1], len(line))
            elif entry is not None and (kind != "dumpel" or line.strip()):
                entry.size += len(line) + 1
                if entry.size > MAX_ENTRY:
                    self.warn(f"line {lineno}: entry longer than {MAX_ENTRY} characters cut", offset)
                    yield from self.finish(kind, entry)
                    entry, skipping = None, True
                elif kind != "dumpel":
                    entry.rest.append(line)  # the description goes on
                elif entry.rest:
                    entry.rest[-1] += "\n" + line  # an insertion string with a line break
                else:
                    self.warn(f"line {lineno}: not a DUMPEL entry, skipped", offset)
            elif line.strip() and not skipping:
                self.warn(f"line {lineno}: not a {_NAMES[kind]} entry, skipped", offset)
        if entry is not None:
            yield from self.finish(kind, entry)
        self.close(_NAMES[kind or "evtxt"])

    # -- language, dates: decided over the whole file before the first entry is yielded --
    def prescan(self, kind: str, lines: Iterator[tuple[int, str]]) -> None:
        """One pass over the file's entry lines (no conversion, nothing kept but counts): the header row, the
        type words (which language wrote the file) and the shapes of the dates (which order they are in).
        A second pass costs linear time and no memory; it lets an ambiguous 01/02/2002 at the top be read
        with what 13/02/2002 further down proves."""
        header_lang: Language | None = None
        votes: dict[str, int] = {}
        spoken: dict[str, int] = {}  # languages of the first descriptions a localised template or wrapper read
        tried = 0
        seen_entry = False
        shapes: dict[str, _DateEvidence] = {}  # per separator; constant memory however long the file
        words: dict[str, tuple[str, ...] | None] = {}  # type word -> languages (a cache: few distinct words)
        for lineno, (_, line) in enumerate(lines, 1):
            if not line.strip():
                continue
            if not _START[kind].match(line):
                if not seen_entry and not header_lang and not self.header_line:
                    info = _header_info(line)
                    if info is not None:
                        header_lang = info
                        self.header_line = lineno
                    elif line.count("\t" if kind == "evtxt" else ",") >= 8 and kind != "dumpel":
                        self.uncovered_header = line.strip().lstrip("\ufeff")[:120]
                        self.header_line = lineno
                continue
            seen_entry = True
            fields = _split_fixed(kind, line.lstrip("\ufeff"))
            if fields is None:
                continue
            date_text = fields[0][0].strip()
            parts = _DATE_PARTS.match(date_text)
            if parts is not None and parts.group(2) != "." and len(parts.group(1)) < 4:
                a, b, c = int(parts.group(1)), int(parts.group(3)), int(parts.group(4))
                evidence = shapes.get(parts.group(2))
                if evidence is None:
                    evidence = shapes[parts.group(2)] = _DateEvidence(lineno, date_text)
                evidence.add(lineno, a, b, c, date_text)
            if kind != "dumpel":
                word = fields[0][3].strip()
                if word and not word.isdigit():
                    codes = words.get(word, ())
                    if codes == ():
                        found = languages.event_type(word)
                        if found is not None:
                            codes = found[1]
                        elif _english_type(word) is not None:
                            codes = ("en",)
                        else:
                            codes = None
                        if len(words) < 1000:
                            words[word] = codes
                    if codes is None:
                        if len(self.unknown_types) < MAX_UNKNOWN_WORDS:
                            self.unknown_types.setdefault(word, lineno)
                    else:
                        for code in codes:
                            votes[code] = votes.get(code, 0) + 1
                if tried < PRESCAN_DESCRIPTIONS and self.lang is None and header_lang is None:
                    tried += 1
                    rest = fields[1]
                    source, id_text = fields[0][2].strip(), fields[0][5].strip()
                    code = _description(source, int(id_text), rest, quoted=kind == "evcsv")[2] if id_text else None
                    if code is not None:
                        spoken[code] = spoken.get(code, 0) + 1
        if self.lang is None:
            self.lang = header_lang or _vote(votes)
            # English for sure: an English header, or type words only English uses ("Failure Audit")
            self.english = (header_lang is not None and header_lang.code == "en") or (
                header_lang is None and _only_english(votes)
            )
            if spoken and (self.lang is None or self.lang.code == "en") and not _only_english(votes):
                # type words English shares with others ("Error") leave it open: the descriptions decide
                self.lang = languages.get(max(sorted(spoken), key=lambda code: spoken[code]))
                self.lang_how = " (from its descriptions)"
        self.settle_dates(shapes)

    def settle_dates(self, shapes: dict[str, _DateEvidence]) -> None:
        """Per separator ("/" or "-"; dots are always day.month.year): the one order every date of the
        file allows, else the language's order if the dates allow it, else unsettled (times left out).
        Two-digit years first (yy/mm/dd) count only for a language that writes year first."""
        default = None if self.uncovered else (self.lang or languages.get("en")).dates.order
        for sep, evidence in shapes.items():
            orders, proof = evidence.result(with_ymd=default == "ymd")
            if len(orders) == 1:
                (order,) = orders
                self.orders[sep] = order
                if default is not None and order != default and order in proof:
                    lineno, text = proof[order]
                    self.warn(
                        f"line {lineno}: date {text} is {_ORDER_NAMES[order]}; reading all dates of this file so", None
                    )
            elif not orders:
                self.orders[sep] = default
                self.warn(
                    f"dates of this file mix day/month and month/day orders; each is read as "
                    f"{_ORDER_NAMES.get(default or '', 'month/day/year')} where it can be",
                    None,
                )
                self.orders[sep] = default or "mdy"
            elif default in orders:
                self.orders[sep] = default
            else:
                self.orders[sep] = None
                self.warn(
                    f"dates such as {evidence.first_text} (line {evidence.first_line}) read as day/month or "
                    "month/day and the export's "
                    "language does not settle which: their times are left out, so no timing conclusion uses them",
                    None,
                )

    @property
    def uncovered(self) -> bool:
        """True when the header or type words are in a language no file describes."""
        return self.given_language is None and (self.uncovered_header is not None or bool(self.unknown_types))

    def announce(self) -> None:
        """One note saying how a localised file, or one whose code page was chosen by content, was read: the
        language of its header or type words, else of its descriptions (type words such as "Error" are
        English and Spanish alike)."""
        enc = self.encoding_used
        if enc is None or not self.kind_read:
            return
        lang, how = self.lang, self.lang_how
        if (lang is None or lang.code == "en") and self.spoken:
            lang = languages.get(max(sorted(self.spoken), key=lambda code: self.spoken[code]))
            how = " (from its descriptions)"
        if (lang is None or lang.code == "en") and enc.plain:
            return
        what = f"{lang.name} " if lang is not None and lang.code != "en" else ""
        self.sink(ReadNote(self.path, f"read as {what}{_NAMES[self.kind_read]}{how}, {enc.describe()}"))

    def warn_not_understood(self) -> None:
        """The one warning for a language no file covers: what could not be read, and how it was read."""
        if not self.uncovered:
            return
        parts = []
        if self.uncovered_header is not None:
            parts.append(f"header {self.uncovered_header!r}")
        if self.unknown_types:
            words = ", ".join(repr(w) for w in self.unknown_types)
            parts.append(f"event type word(s) {words} (read as information)")
        self.warn(
            "language not covered by analyzer/languages: "
            + "; ".join(parts)
            + " not understood; columns were read by position and descriptions kept as text "
            "(insertion strings only from the English 'could not be found' wrapper)",
            None,
        )

    def close(self, name: str) -> None:
        self.warn_not_understood()
        self.announce()
        if self.warnings > MAX_WARNINGS:
            self.sink(ReadWarning(self.path, f"{self.warnings - MAX_WARNINGS} more warning(s) not shown"))
        if self.readable == 0 and self.warnings:
            raise InputError(self.path, f"no readable {name} entries ({self.warnings} problem(s) reported)")

    def run_blocks(self, lines: Iterator[tuple[int, tuple[int, str]]]) -> Iterator[Event]:
        """The Event Properties dialog's "Copy" text, one labelled block per event, as customers paste it
        into a file: ``Event Type:``, ``Event Source:``, ``Event Category:``, ``Event ID:``, ``Date:``,
        ``Time:``, ``User:``, ``Computer:``, then ``Description:`` (to the end of the block) and an
        optional ``Data:`` hex dump (bytes or words).  A block starts at each ``Event Type:`` line."""
        block: _Block | None = None
        for lineno, (offset, line) in lines:
            match = _BLOCK_LABEL.match(line.lstrip("\ufeff"))
            label = match.group(1).casefold() if match else None
            value = match.group(2).strip() if match else ""
            if label == "event type":
                if block is not None:
                    yield from self.finish_block(block)
                self.record += 1
                block = _Block(lineno, offset, self.record, {"event type": value})
            elif block is None:
                if line.strip():
                    self.warn(f"line {lineno}: text before the first 'Event Type:' line skipped", offset)
            elif block.section == "head" and label == "description":
                block.section = "description"
                if value:
                    block.description.append(value)
            elif block.section == "head" and label is not None:
                block.labels[label] = value
            elif block.section != "data" and label == "data":
                block.section = "data"
            elif block.section == "description":
                block.size += len(line) + 1
                if block.size <= MAX_ENTRY:
                    block.description.append(line)
            elif block.section == "data":
                if not _data_line(line, block.data) and line.strip():
                    block.section = "done"  # text after the dump (a signature, the next mail) is ignored
            elif line.strip() and block.section == "head":
                self.warn(f"line {lineno}: unexpected line in an event block skipped", offset)
        if block is not None:
            yield from self.finish_block(block)
        self.close("Event Viewer event-details")

    def finish_block(self, block: _Block) -> Iterator[Event]:
        labels = block.labels
        missing = [name for name in _BLOCK_REQUIRED if not labels.get(name)]
        if missing:
            self.warn(f"line {block.line}: event block without {', '.join(missing)} skipped", block.offset)
            return
        category = labels.get("event category", "").strip("() ")
        fields = [labels["date"], labels["time"], labels["event source"], labels["event type"], category,
                  labels["event id"], labels.get("user", "N/A"), labels.get("computer", "")]  # fmt: skip
        description = block.description
        # After Vista's "The following information was included with the event:" every line is an insertion
        # string, so a last string "-" or "=" is kept; only blank lines end such a block.
        strings_follow = any(_STRINGS_PER_LINE.search(line) for line in description)
        while description and (
            _MORE_INFO.match(description[-1])
            or (_TRAILER.match(description[-1]) and not (strings_follow and description[-1].strip()))
        ):
            description.pop()
        entry = _Entry(block.line, block.offset, block.record, fields, description, block.size, bytes(block.data))
        if not fields[5].isdigit():
            self.warn(f"line {block.line}: event ID {fields[5]!r} is not a number; block skipped", block.offset)
            return
        yield from self.finish("evtxt", entry)

    def finish(self, kind: str, entry: _Entry) -> Iterator[Event]:
        try:
            event = self.convert(kind, entry)
        except ValueError as exc:
            self.warn(f"line {entry.line}: {exc}; entry skipped", entry.offset)
            return
        self.readable += 1
        if event is not None:
            yield event

    # -- conversion --
    def convert(self, kind: str, entry: _Entry) -> Event | None:
        f = entry.fields
        when = self.parse_when(f[0], f[1], entry)
        if kind == "dumpel":
            etype = EventType.from_code(int(f[2]))
            category, event_id, user, source, computer = int(f[3]), int(f[4]), f[5], f[6], f[7]
        else:
            source, type_text, category_text, id_text, user, computer = f[2], f[3], f[4], f[5], f[6], f[7]
            etype = self.parse_type(type_text, entry)
            category = int(category_text) if category_text.strip().isdigit() else 0
            event_id = int(id_text)
        if not 0 <= event_id <= 0xFFFFFFFF:
            raise ValueError(f"event ID {event_id} out of range")
        source, computer = source.strip(), computer.strip()
        flt = self.filters
        if flt is not None and not (
            flt.wants_id(event_id)
            and flt.wants_type(etype)
            and flt.wants_source(source)
            and flt.wants_pair(event_id, source)
            and flt.wants_time(when)
        ):
            return None
        message: str | None
        if kind == "dumpel":
            strings = self.dumpel_strings(source, event_id, entry)
            message = None
        else:
            strings, message, spoken = _description(
                source, event_id, entry.rest, quoted=kind == "evcsv", lang=self.lang, localised=not self.english
            )
            if spoken is not None:
                self.spoken[spoken] = self.spoken.get(spoken, 0) + 1
        event = Event(
            path=self.path,
            record=entry.record,
            offset=entry.offset,
            time_generated=when,
            time_written=None,
            event_id=event_id & 0xFFFF,
            event_id_full=event_id,
            type=etype,
            category=category,
            source=source,
            computer=computer,
            sid=None if user.strip().casefold() in _NA or languages.is_na(user) else user.strip(),
            strings=strings,
            message=message,
            data=entry.data,
        )
        if flt is not None and not flt.matches(event):
            return None
        return event

    def parse_type(self, text: str, entry: _Entry) -> EventType:
        known = self.types.get(text)
        if known is not None:
            return known
        word = text.strip()
        if word.isdigit():
            return EventType.from_code(int(word))
        found = _english_type(word)
        if found is None:
            localised = languages.event_type(word)
            found = localised[0] if localised is not None else None
        if found is None:
            if word not in self.unknown_types and len(self.unknown_types) < MAX_UNKNOWN_WORDS:
                self.unknown_types[word] = entry.line  # named in the one language warning at the end
            return EventType.INFORMATION
        self.types[text] = found
        return found

    def parse_when(self, date_text: str, time_text: str, entry: _Entry) -> datetime | None:
        """The entry's local time; None when the date order of the file could not be settled."""
        date_text, time_text = date_text.strip(), time_text.strip()
        ymd = self.dates.get(date_text)
        if ymd is None:
            ymd = self.parse_date(date_text)
            if len(self.dates) >= 4096:  # a cache: entries of one day share their date
                self.dates.clear()
            self.dates[date_text] = ymd
        if ymd is _UNSETTLED:
            return None
        year, month, day = ymd
        match = _SIMPLE_CLOCK.fullmatch(time_text) or _CLOCK.fullmatch(time_text)
        if match is None:
            raise ValueError(f"unreadable time {time_text!r}")
        hour, minute, second_ = int(match.group("h")), int(match.group("m")), int(match.group("s") or 0)
        ampm = match.group("post") or (match.group("pre") if match.re is _CLOCK else None)
        if ampm:
            if not 1 <= hour <= 12:
                raise ValueError(f"unreadable time {time_text!r}")
            pm = ampm[:1] in "Pp" or ampm.casefold() in _PM
            hour = hour % 12 + (12 if pm else 0)
        try:
            when = datetime(year, month, day, hour, minute, second_)
        except (ValueError, OverflowError):  # OverflowError: a 30-digit "year"
            raise ValueError(f"impossible date/time {date_text} {time_text}") from None
        if self.tz is not None:
            when = when.replace(tzinfo=self.tz).astimezone(UTC)
        return when

    def parse_date(self, date_text: str) -> tuple[int, int, int]:
        """(year, month, day) of a date in the file's settled order; ``_UNSETTLED`` when it has none."""
        parts = _DATE_PARTS.match(date_text)
        if parts is None:
            raise ValueError(f"unreadable date {date_text!r}")
        a, sep, b, c = int(parts.group(1)), parts.group(2), int(parts.group(3)), int(parts.group(4))
        if len(parts.group(1)) == 4:
            order: str | None = "ymd"
        elif sep == ".":
            order = "dmy"
        else:
            order = self.orders.get(sep, "mdy")
            if order is None:
                return _UNSETTLED
            if order != "ymd" and not _valid_date(order, a, b, c):  # a file that mixes orders
                order = next((o for o in ("dmy", "mdy") if _valid_date(o, a, b, c)), order)
        year, month, day = (a, b, c) if order == "ymd" else (c, b, a) if order == "dmy" else (c, a, b)
        if year < 100:
            year += 2000 if year < 70 else 1900
        return year, month, day

    def dumpel_strings(self, source: str, event_id: int, entry: _Entry) -> tuple[str, ...]:
        """DUMPEL -t output has exact strings; without -t they come joined by spaces (see ``_SPACED``)."""
        if not (entry.rest and entry.rest[0] is _SPACED):  # identity: the file may hold the same text
            return tuple(entry.rest)
        joined = entry.rest[1] if len(entry.rest) > 1 else ""  # the marker alone: a cut-off line
        if not joined:
            return ()
        split = messages.split_joined(source, event_id, joined, " ")
        if split is not None:
            return split
        if not self.warned_joined and " " in joined:
            self.warned_joined = True
            self.warn(
                f"line {entry.line}: DUMPEL output without -t joins insertion strings with spaces; "
                "each such entry keeps them as one string",
                entry.offset,
            )
        return (joined,)


_NAMES = {"evtxt": "Event Viewer text", "evcsv": "Event Viewer CSV", "dumpel": "DUMPEL"}
_SPACED = "\x00spaced"  # marks DUMPEL lines whose fields were split on spaces (no -t); compared by identity


def _header_kind(line: str) -> str | None:
    """ "evtxt" / "evcsv" when ``line`` is an Event Viewer header row in a language of analyzer/languages."""
    text = line.strip().lstrip("\ufeff")
    for sep, kind in (("\t", "evtxt"), (",", "evcsv")):
        if text.count(sep) >= 8 and languages.header_code(text.split(sep)) is not None:
            return kind
    return None


def _header_info(line: str) -> Language | None:
    """The language of an Event Viewer header row, None when ``line`` is not one."""
    text = line.strip().lstrip("\ufeff")
    for sep in ("\t", ","):
        if text.count(sep) >= 8:
            found = languages.header_language(text.split(sep))
            if found is not None:
                return found
    return None


def _english_type(word: str) -> EventType | None:
    """The type of an English (or contract) spelling such as 'Failure Audit' or 'failure_audit'."""
    try:
        return EventType.parse(word)
    except ValueError:
        return None


def _vote(votes: dict[str, int]) -> Language | None:
    """The language most type words belong to; a word several languages share ("Information") counts for
    each, so one German "Fehler" decides between English and German."""
    if not votes:
        return None
    best = max(votes.values())
    winners = [code for code, n in votes.items() if n == best]
    if "en" in winners:  # only words English shares with others ("Error", "Information"): English
        return languages.get("en")
    return languages.get(sorted(winners)[0])


def _only_english(votes: dict[str, int]) -> bool:
    """True when some type word is English alone ("Failure Audit"): English beats the descriptions then."""
    return votes.get("en", 0) > max((n for code, n in votes.items() if code != "en"), default=0)


def _valid_date(order: str, a: int, b: int, c: int) -> bool:
    """Whether the three numbers read in ``order`` give a month 1-12 and a day 1-31."""
    day, month = {"dmy": (a, b), "mdy": (b, a), "ymd": (c, b)}[order]
    return 1 <= month <= 12 and 1 <= day <= 31


class _DateEvidence:
    """What the dates of one separator allow, gathered line by line in constant memory: the orders still
    possible (with and without year-first two-digit dates) and, per order, the first date that ruled the
    others out."""

    __slots__ = ("first_line", "first_text", "orders", "orders_ymd", "proof", "proof_ymd")

    def __init__(self, first_line: int, first_text: str) -> None:
        self.first_line, self.first_text = first_line, first_text
        self.orders, self.orders_ymd = {"dmy", "mdy"}, {"dmy", "mdy", "ymd"}
        self.proof: dict[str, tuple[int, str]] = {}
        self.proof_ymd: dict[str, tuple[int, str]] = {}

    def add(self, lineno: int, a: int, b: int, c: int, text: str) -> None:
        valid = {o for o in ("dmy", "mdy", "ymd") if _valid_date(o, a, b, c)}
        if not valid:
            return  # an impossible date is damage, reported with its entry
        if self.orders and not self.orders <= valid:
            for kept in self.orders & valid:  # this date rules an order out: the proof of what is left
                self.proof.setdefault(kept, (lineno, text))
            self.orders &= valid
        if self.orders_ymd and not self.orders_ymd <= valid:
            for kept in self.orders_ymd & valid:
                self.proof_ymd.setdefault(kept, (lineno, text))
            self.orders_ymd &= valid

    def result(self, *, with_ymd: bool) -> tuple[set[str], dict[str, tuple[int, str]]]:
        return (self.orders_ymd, self.proof_ymd) if with_ymd else (self.orders, self.proof)


_ORDER_NAMES = {"dmy": "day/month/year", "mdy": "month/day/year", "ymd": "year/month/day"}


def _split_fixed(kind: str, line: str) -> tuple[list[str], list[str]] | None:
    """The eight fixed fields and the rest (first description line, or DUMPEL strings); None if malformed."""
    if kind == "evtxt":
        parts = line.split("\t", 8)
        if len(parts) < 8:
            return None
        fields, rest = parts[:8], parts[8:] if len(parts) == 9 else [""]
    elif kind == "evcsv":
        parsed = _csv_fields(line, 8)
        if parsed is None:
            return None
        fields, tail = parsed
        rest = [tail]
    else:
        parsed_d = _dumpel_fields(line)
        if parsed_d is None:
            return None
        fields, rest = parsed_d
    if not (_DATE_RE.match(fields[0].strip()) and _TIME_RE.match(fields[1].strip())):
        return None
    if kind != "dumpel" and not fields[5].strip().isdigit():
        return None
    if not fields[2].strip():
        return None
    return fields, rest


def _csv_fields(line: str, count: int) -> tuple[list[str], str] | None:
    """The first ``count`` comma-separated fields (quoted or bare) and the raw rest of the line."""
    fields: list[str] = []
    pos = 0
    for index in range(count):
        match = _CSV_FIELD.match(line, pos)
        if match is None:
            return None
        quoted, bare = match.group(1), match.group(2)
        fields.append(quoted.replace('""', '"') if quoted is not None else bare)
        ended = not line[pos : match.end()].endswith(",")
        pos = match.end()
        if ended and index < count - 1:
            return None  # fewer fields than the layout has
    return fields, line[pos:]


def _dumpel_fields(line: str) -> tuple[list[str], list[str]] | None:
    """DUMPEL: date, time, type, category, event ID, user, source, computer, then strings.

    Tab-separated throughout, the fields are exact.  With spaces between the fixed fields (DUMPEL's default,
    or -t when only the strings are tab-separated) the user, source and computer are guessed: a two-word
    account such as ``NT AUTHORITY\\SYSTEM`` is kept together and sources with spaces are recognised from
    the message catalog and a short list of common ones.
    """
    if "\t" in line:
        parts = line.split("\t")
        if len(parts) >= 8 and all(p.strip().isdigit() for p in parts[2:5]):
            return parts[:8], parts[8:]
        spaced = _dumpel_spaced(parts[0])  # fixed fields by spaces, strings by tabs
        if spaced is None:
            return None
        fields, leftover = spaced
        return fields, [leftover, *parts[1:]] if leftover else parts[1:]
    spaced = _dumpel_spaced(line)
    if spaced is None:
        return None
    fields, leftover = spaced
    return fields, [_SPACED, leftover]


def _dumpel_spaced(line: str) -> tuple[list[str], str] | None:
    """The eight fixed fields of a space-separated DUMPEL line and what follows them."""
    match = re.match(rf"^\s*({_DATE})\s+({_TIME})\s+(\d+)\s+(\d+)\s+(\d+)\s+(.*)$", line)
    if match is None:
        return None
    tokens = [t for t in match.group(6).split(" ") if t != ""]
    if len(tokens) < 3:
        return None
    user = tokens.pop(0)
    if "\\" not in user and user.casefold() not in _NA and tokens and "\\" in tokens[0]:
        user += " " + tokens.pop(0)  # "NT AUTHORITY\SYSTEM"
    rest = " ".join(tokens)
    source = next((s for s in _MULTIWORD_SOURCES if rest.casefold().startswith(s.casefold() + " ")), None)
    if source is not None:
        tokens = rest[len(source) + 1 :].split(" ")
    else:
        source = tokens.pop(0)
    if not tokens or not tokens[0]:
        return None
    computer = tokens.pop(0)
    fields = [match.group(1), match.group(2), match.group(3), match.group(4), match.group(5), user, source, computer]
    return fields, " ".join(tokens).strip()


_MULTIWORD_SOURCES = tuple(
    sorted(
        {s for t in messages.CATALOG for s in t.sources if " " in s}
        | {"Application Popup", "Service Control Manager", "Microsoft Exchange Internet Mail Service"},
        key=len,
        reverse=True,
    )
)


def _description(
    source: str,
    event_id: int,
    lines: list[str],
    *,
    quoted: bool = False,
    lang: Language | None = None,
    localised: bool = True,
) -> tuple[tuple[str, ...], str | None, str | None]:
    """(insertion strings, message, language of a localised wrapper or template that read it) from an
    Event Viewer description spread over ``lines``; ``quoted``: a CSV description in double quotes loses
    them (and its doubled inner quotes); ``localised`` False: an export known to be English, whose texts
    are not tried against the other languages (a third of the reading time saved).

    The message keeps the viewer's text in its own language.  Insertion strings come from the English or
    a localised "could not be found" wrapper, else from the English catalog's patterns, else from the
    file's language's templates (``analyzer.languages.match_rendered``: only a whole-text match with a
    single reading counts)."""
    text = "\n".join(lines).rstrip()
    if quoted and len(text) >= 2 and text.lstrip().startswith('"') and text.endswith('"'):
        stripped = text.strip()
        text = stripped[1:-1].replace('""', '"')  # a quoted CSV description
    if not text.strip():
        return (), None, None
    wrapped = _unwrap(source, event_id, text)
    if wrapped is not None:
        return wrapped, None, None
    unwrapped = (
        languages.unwrap(text, lang.code if lang is not None and lang.code != "en" else None) if localised else None
    )
    if unwrapped is not None:
        return _split_payload(source, event_id, unwrapped.payload), None, unwrapped.language
    recovered = messages.recover_strings(source, event_id, text)  # English Exchange on localised Windows too
    if recovered is not None or not localised:
        return recovered or (), text, None
    # the file's language, or every language when type words shared with English ("Error") left it open
    code = lang.code if lang is not None and lang.code != "en" else None
    found = languages.match_rendered(text, source=source, event_id=event_id, language=code)
    if found is not None:
        return found.strings, text, found.language
    return (), text, None


def _unwrap(source: str, event_id: int, text: str) -> tuple[str, ...] | None:
    """Insertion strings listed by the "could not be found" wrapper, or None when ``text`` is not one.

    The wrapper lists the strings either on one line joined by ", " (NT 4.0 to Windows 2003), which is
    ambiguous when a string holds ", " itself (DN-shaped strings of the catalog events are split safely,
    others by a plain split), or one per line (Vista and later).  One trailing period is dropped: the older
    viewers end the list with one.
    """
    if _WRAPPER.match(text) is None:
        return None
    marker = _WRAPPER_MARKERS.search(text)
    if marker is None:
        return ()
    return _split_payload(source, event_id, text[marker.end() :])


def _split_payload(source: str, event_id: int, payload: str) -> tuple[str, ...]:
    """The insertion strings a wrapper lists after its marker: one per line, or joined by ", "."""
    payload = payload.strip(" \t")
    if payload.startswith("\n"):
        lines = [line.strip() for line in payload.split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        while lines and not lines[0]:
            lines.pop(0)
        return tuple(lines)
    payload = payload.rstrip()
    if payload.endswith("."):
        payload = payload[:-1]
    if not payload:
        return ()
    split = messages.split_joined(source, event_id, payload, ", ")
    return split if split is not None else tuple(payload.split(", "))
