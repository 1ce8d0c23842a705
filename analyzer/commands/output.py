"""One output grammar for every command: ``-o/--output FILE``, ``--format`` or the file's extension.

Why: an engineer who types ``-o report.html`` expects HTML, whichever command it is, and the same
format names everywhere.  ``--format`` wins over the extension; an extension the command cannot write
is a usage error rather than a file of another kind under a misleading name.  ``text`` and ``table``
are one format (the terminal layout) under two names.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from analyzer.case import CaseLimits, is_zip, open_case
from analyzer.exitcodes import UsageError
from analyzer.report.diagnosis.untrusted import visible
from analyzer.report.terminal import DEFAULT_WIDTH, Layout, layout_for

#: file extension -> format name
FORMAT_BY_EXTENSION = {
    ".txt": "text",
    ".text": "text",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
}
#: names accepted by ``--format`` for the same format
SYNONYMS = {"table": "text", "md": "markdown"}

FORMAT_HELP = {
    "text": "the terminal layout (also: table)",
    "json": "one JSON document",
    "jsonl": "one JSON object per line, streamed",
    "csv": "comma-separated rows for spreadsheets",
    "markdown": "GitHub-flavoured Markdown (also: md)",
    "html": "a self-contained page",
}


def add_output_arguments(parser: argparse.ArgumentParser, formats: Sequence[str], *, what: str = "output") -> None:
    """``-o/--output FILE`` and ``--format`` with the formats this command writes (first: the default)."""
    names = [*formats, *(alias for alias, target in SYNONYMS.items() if target in formats)]
    described = "; ".join(f"{name}: {FORMAT_HELP[name]}" for name in formats)
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help=f"write the {what} to FILE instead of the terminal; its extension chooses the format "
        f"({', '.join(sorted(e for e, f in FORMAT_BY_EXTENSION.items() if f in formats))}) unless --format is given",
    )
    parser.add_argument(
        "--format",
        choices=names,
        default=None,
        help=f"format of the {what} (default: from -o's extension, else {formats[0]}) -- {described}",
    )


def choose_format(args: argparse.Namespace, formats: Sequence[str]) -> str:
    """The format to write: ``--format`` (synonyms resolved), else the extension of ``-o``, else the default.

    Raises UsageError when the extension names a format this command cannot write.
    """
    given = getattr(args, "format", None)
    if given:
        return SYNONYMS.get(given, given)
    output = getattr(args, "output", None)
    if output:
        ext = os.path.splitext(output)[1].lower()
        fmt = FORMAT_BY_EXTENSION.get(ext)
        if fmt is not None:
            if fmt not in formats:
                raise UsageError(
                    f"{output}: this command cannot write {fmt} (formats: {', '.join(formats)}); "
                    "choose another extension or give --format"
                )
            return fmt
    return formats[0]


def say_written(path: str, what: str = "output") -> None:
    """The one line that says where a file went (stdout: with -o it carries nothing else but the verdict)."""
    print(f"Wrote the {what} to {visible(path, cell=True)}")


@dataclass(frozen=True)
class Input:
    """One file to read (``real`` is what to open, ``display`` what to call it), or a problem line."""

    display: str
    real: str | None = None
    problem: str | None = None


@contextlib.contextmanager
def expanded_inputs(paths: Sequence[str], formats: Collection[str], limits: CaseLimits) -> Iterator[list[Input]]:
    """The files of ``paths`` in the order given: plain files, folders (recursive) and .zip archives.

    Plain files are passed on as given (the reader says what is wrong with them); folders and zips are
    opened as ``diagnose`` opens a case (safe extraction, capped), keeping the inputs whose content is
    one of ``formats``; a folder or zip with none becomes a problem line in its place.  Extracted
    files live until the block is left.
    """
    out: list[Input] = []
    with contextlib.ExitStack() as stack:
        for given in paths:
            if not (os.path.isdir(given) or (os.path.isfile(given) and is_zip(given))):
                out.append(Input(given, given))
                continue
            case = stack.enter_context(open_case(given, limits=limits))
            out.extend(Input(given, problem=f"{given}: {e}") for e in case.errors)
            prefix = given.rstrip("/\\")
            found = [i for i in case.inputs if i.format in formats and i.error is None]
            out.extend(Input(f"{prefix}/{i.path}", i.real_path) for i in found)
            if not found:
                why = "; ".join(f"{i.path}: {i.error or i.note or 'another kind of file'}" for i in case.inputs[:3])
                out.append(Input(given, problem=f"{given}: nothing of this kind inside" + (f" ({why})" if why else "")))
        yield out


def add_terminal_arguments(parser: argparse.ArgumentParser) -> None:
    """``--width N`` and ``--color auto|always|never`` for commands that print text for people."""
    parser.add_argument(
        "--width",
        type=_width,
        metavar="N",
        help="columns to fit the text output to (default: the terminal's width, COLUMNS, else 80)",
    )
    parser.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colour the verdict and severities: auto = only on a terminal and when NO_COLOR is not set",
    )


def _width(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of columns: {text!r}") from None
    if not 40 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"width out of range (40-1000): {text!r}")
    return value


def layout_from(args: argparse.Namespace, to_file: bool) -> Layout:
    """The text layout for this run: the terminal's when printing, 80 columns without colour in a file."""
    width = getattr(args, "width", None)
    if to_file:
        return Layout(width or DEFAULT_WIDTH, getattr(args, "color", "auto") == "always")
    return layout_for(sys.stdout, width=width, color=getattr(args, "color", "auto") or "auto")
