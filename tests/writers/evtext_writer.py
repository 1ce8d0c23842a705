"""Writers for event-log text exports, to make test inputs from ``model.Event`` objects.

Shapes (DOMAIN.md §4.1): Event Viewer "Save Log File As" text (tab-delimited) and comma-delimited, fields
Date, Time, Source, Type, Category, Event, User, Computer, Description; DUMPEL (Resource Kit) lines with date,
time, numeric type, category, event ID, user, source, computer and the insertion strings (tab-separated with
-t, else space-separated).  Options cover what varies between Windows versions and what customers' tools
do to the files: header line, rendered description or the "could not be found" wrapper in its NT 4.0,
Windows 2000/2003 and Vista wordings, date and clock styles, quoting, code page / UTF-16 with BOM, CRLF.

The wrapper wordings below are written from the shape KB 165959 / KB 166902 describe (event ID and source in
parentheses, then the insertion strings); the rendered descriptions come from ``analyzer.messages`` and are
our own paraphrases, never Microsoft's message text.

``language`` (a code of ``analyzer.languages``) writes a localised export: that language's header row, type
and category words, "N/A", wrappers, message templates and date/time style.  Strings the language file
marks as reconstructed are written as they stand there: such files test the reader against the language
data, not against Microsoft's wording.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from analyzer import languages, messages
from analyzer.languages import Language
from analyzer.model import Event

HEADER = ("Date", "Time", "Source", "Type", "Category", "Event", "User", "Computer", "Description")
# (date style, clock) each language's Event Viewer used by default (Windows 2000 short date, long time)
DATE_STYLES = {"en": ("mdy", "12h"), "de": ("dmy", "24h"), "fr": ("dmy-slash2", "24h"), "es": ("dmy-slash2", "24h"),
               "it": ("dmy-slash2", "24h-dot"), "ja": ("ymd-slash", "24h")}  # fmt: skip
_TYPE_CODE = {"error": 1, "warning": 2, "information": 4, "success_audit": 8, "failure_audit": 16}


def format_date(when: datetime, style: str = "mdy") -> str:
    """mdy 6/14/2002, mdy2 6/14/02, dmy 14.06.2002, dmy2 14.06.02, dmy-slash 14/6/2002, dmy-slash2 14/06/2002,
    dmy-dash 14-6-2002, ymd-slash 2002/06/14, iso 2002-06-14."""
    if style == "mdy":
        return f"{when.month}/{when.day}/{when.year}"
    if style == "mdy2":
        return f"{when.month}/{when.day}/{when.year % 100:02d}"
    if style == "dmy":
        return f"{when.day:02d}.{when.month:02d}.{when.year}"
    if style == "dmy2":
        return f"{when.day:02d}.{when.month:02d}.{when.year % 100:02d}"
    if style == "dmy-slash":
        return f"{when.day}/{when.month}/{when.year}"
    if style == "dmy-slash2":
        return f"{when.day:02d}/{when.month:02d}/{when.year}"
    if style == "dmy-dash":
        return f"{when.day}-{when.month}-{when.year}"
    if style == "ymd-slash":
        return f"{when.year}/{when.month:02d}/{when.day:02d}"
    if style == "iso":
        return when.strftime("%Y-%m-%d")
    raise ValueError(style)


def format_time(when: datetime, clock: str = "12h", am: str = "AM", pm: str = "PM") -> str:
    """12h "3:04:05 PM", 24h "15:04:05", 24h-dot "15.04.05" (Italian), 12h-before "午後 3:04:05" (the
    AM/PM word first, as East Asian Windows wrote it)."""
    if clock == "24h":
        return when.strftime("%H:%M:%S")
    if clock == "24h-dot":
        return when.strftime("%H.%M.%S")
    if clock == "12h-before":
        return f"{am if when.hour < 12 else pm} {when.hour % 12 or 12}:{when.minute:02d}:{when.second:02d}"
    hour = when.hour % 12 or 12
    return f"{hour}:{when.minute:02d}:{when.second:02d} {'AM' if when.hour < 12 else 'PM'}"


def wrapper_text(event: Event, style: str = "nt4", lang: Language | None = None) -> str:
    """The viewer's "description could not be found" text listing the insertion strings."""
    if lang is not None and lang.code != "en":
        windows = "2000" if style == "w2k" else style
        wrapper = next(w for w in lang.wrappers if w.phrase.windows == windows)
        return languages.wrapper_text(wrapper, event.event_id, event.source, event.strings)
    if style == "vista":
        head = (
            f"The description for Event ID {event.event_id} from source {event.source} cannot be found. The "
            "component that raises this event is not installed on this computer.\n\n"
            "The following information was included with the event:\n\n"
        )
        return head + "".join(s + "\n" for s in event.strings)
    joined = ", ".join(event.strings) + "."
    if style == "nt4":
        return (
            f"The description for Event ID ( {event.event_id} ) in Source ( {event.source} ) could not be found. "
            f"It contains the following insertion string(s): {joined}"
        )
    if style == "w2k":
        return (
            f"The description for Event ID ( {event.event_id} ) in Source ( {event.source} ) cannot be found. "
            "The local computer may lack the registry information or message DLL files needed to show it. "
            f"The following information is part of the event: {joined}"
        )
    raise ValueError(style)


def description(event: Event, mode: str = "auto", wrapper: str = "nt4", lang: Language | None = None) -> str:
    """auto: the event's message, else our rendered text for catalog events, else the wrapper;
    rendered: like auto but never the wrapper; wrapper: always the wrapper."""
    if mode == "wrapper":
        return wrapper_text(event, wrapper, lang)
    if event.message is not None:
        return event.message
    if lang is not None and lang.code != "en":
        templates = languages.templates_for(event.source, event.event_id, lang.code)
        if templates:
            return languages.render(templates[0], event.strings)
        if mode == "rendered":
            return " ".join(event.strings)
        return wrapper_text(event, wrapper, lang)
    rendered = messages.render(event.source, event.event_id, event.strings, event.event_id_full)
    if rendered is not None:
        return rendered.text
    if mode == "rendered":
        return " ".join(event.strings)
    return wrapper_text(event, wrapper)


def _csv_cell(text: str, quote: str) -> str:
    if quote == "all" or (quote == "needed" and any(ch in text for ch in ',"\n\r')):
        return '"' + text.replace('"', '""') + '"'
    return text


def event_viewer_lines(
    events: Iterable[Event],
    *,
    sep: str = "\t",
    header: bool = False,
    mode: str = "auto",
    wrapper: str = "nt4",
    date_style: str | None = None,
    clock: str | None = None,
    quote: str = "needed",
    category_names: dict[int, str] | None = None,
    language: str | None = None,
) -> list[str]:
    """Lines (without line ends) of an Event Viewer export; a description with line breaks spans lines.

    ``language``: a localised export (its words, and its date/time style unless given)."""
    lang = languages.get(language or "en")
    date_style = date_style or DATE_STYLES[lang.code][0]
    clock = clock or DATE_STYLES[lang.code][1]
    am, pm = (lang.dates.am or ("AM",))[0], (lang.dates.pm or ("PM",))[0]
    rows: list[list[str]] = [list(lang.columns[0][0])] if header else []
    for ev in events:
        when = ev.time_generated
        assert when is not None
        none = lang.category_word("None") or "None"
        category = (category_names or {}).get(ev.category) or (str(ev.category) if ev.category else none)
        rows.append(
            [
                format_date(when, date_style),
                format_time(when, clock, am, pm),
                ev.source,
                lang.type_word(ev.type),
                category,
                str(ev.event_id),
                ev.sid or lang.na[0].text,
                ev.computer,
                description(ev, mode, wrapper, lang),
            ]
        )
    if sep == ",":
        text = "\n".join(",".join(_csv_cell(cell, quote) for cell in row) for row in rows)
    else:
        text = "\n".join(sep.join(row) for row in rows)
    return text.split("\n")


def event_details_lines(
    events: Iterable[Event],
    *,
    mode: str = "auto",
    wrapper: str = "w2k",
    date_style: str = "mdy",
    clock: str = "12h",
    more_info: bool = True,
    data: str = "bytes",
    separator: str | None = None,
    category_names: dict[int, str] | None = None,
) -> list[str]:
    """The Event Properties dialog's "Copy" text (Windows 2000-2003), one block per event, as customers
    paste it into a file.  ``data`` bytes|words chooses the hex dump; ``separator`` a line put between
    blocks (e.g. dashes)."""
    lines: list[str] = []
    for index, ev in enumerate(events):
        when = ev.time_generated
        assert when is not None
        if index and separator is not None:
            lines.append(separator)
        category = (category_names or {}).get(ev.category) or (f"({ev.category})" if ev.category else "None")
        lines += [
            f"Event Type:\t{ev.type.label}",
            f"Event Source:\t{ev.source}",
            f"Event Category:\t{category}",
            f"Event ID:\t{ev.event_id}",
            f"Date:\t\t{format_date(when, date_style)}",
            f"Time:\t\t{format_time(when, clock)}",
            f"User:\t\t{ev.sid or 'N/A'}",
            f"Computer:\t{ev.computer}",
            "Description:",
            *description(ev, mode, wrapper).split("\n"),
        ]
        if more_info:
            lines += [
                "",
                "For more information, see Help and Support Center at http://go.microsoft.com/fwlink/events.asp.",
            ]
        if ev.data:
            lines.append("Data:")
            lines += _hex_dump(ev.data, data)
    return lines


def _hex_dump(data: bytes, style: str) -> list[str]:
    out = []
    for pos in range(0, len(data), 8):
        chunk = data[pos : pos + 8]
        if style == "words":
            chunk = chunk + bytes(-len(chunk) % 4)
            words = " ".join(f"{int.from_bytes(chunk[i : i + 4], 'little'):08x}" for i in range(0, len(chunk), 4))
            out.append(f"{pos:04x}: {words}")
        else:
            text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
            out.append(f"{pos:04x}: {' '.join(f'{b:02x}' for b in chunk):<24}  {text}")
    return out


def dumpel_lines(
    events: Iterable[Event], *, tabs: bool | str = True, date_style: str = "mdy", clock: str = "12h"
) -> list[str]:
    """DUMPEL lines: ``tabs`` True (tabs everywhere), False (spaces everywhere) or "strings" (spaces between
    the fixed fields, tabs before and between the insertion strings)."""
    sep = "\t" if tabs is True else " "
    lines = []
    for ev in events:
        when = ev.time_generated
        assert when is not None
        fields = [
            format_date(when, date_style),
            format_time(when, clock),
            str(_TYPE_CODE[ev.type.value]),
            str(ev.category),
            str(ev.event_id),
            ev.sid or "N/A",
            ev.source,
            ev.computer,
        ]
        if tabs == "strings":
            lines.append(" ".join(fields) + "".join("\t" + text for text in ev.strings))
        else:
            lines.append(sep.join([*fields, *ev.strings]))
    return lines


def encode_lines(
    lines: list[str], encoding: str = "cp1252", newline: str = "\r\n", final_newline: bool = True
) -> bytes:
    """cp1252/other ANSI, "utf-8", "utf-8-sig", or "utf-16" (little-endian with BOM, as Windows writes it)."""
    text = newline.join(lines) + (newline if final_newline and lines else "")
    if encoding == "utf-16":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    return text.encode(encoding)


def write_evtxt(
    path: str | Path, events: Iterable[Event], *, encoding: str = "cp1252", newline: str = "\r\n", **options: object
) -> Path:
    """Event Viewer tab-delimited text export (options: see ``event_viewer_lines``)."""
    data = encode_lines(event_viewer_lines(events, sep="\t", **options), encoding, newline)  # type: ignore[arg-type]
    Path(path).write_bytes(data)
    return Path(path)


def write_evcsv(
    path: str | Path, events: Iterable[Event], *, encoding: str = "cp1252", newline: str = "\r\n", **options: object
) -> Path:
    """Event Viewer comma-delimited export (options: see ``event_viewer_lines``; ``quote`` needed|all|none)."""
    data = encode_lines(event_viewer_lines(events, sep=",", **options), encoding, newline)  # type: ignore[arg-type]
    Path(path).write_bytes(data)
    return Path(path)


def write_evblock(
    path: str | Path, events: Iterable[Event], *, encoding: str = "cp1252", newline: str = "\r\n", **options: object
) -> Path:
    """Event Properties "Copy" blocks pasted into a file (options: see ``event_details_lines``)."""
    data = encode_lines(event_details_lines(events, **options), encoding, newline)  # type: ignore[arg-type]
    Path(path).write_bytes(data)
    return Path(path)


def write_dumpel(
    path: str | Path, events: Iterable[Event], *, encoding: str = "cp1252", newline: str = "\r\n", **options: object
) -> Path:
    """DUMPEL output (options: ``tabs``, ``date_style``, ``clock``)."""
    data = encode_lines(dumpel_lines(events, **options), encoding, newline)  # type: ignore[arg-type]
    Path(path).write_bytes(data)
    return Path(path)
