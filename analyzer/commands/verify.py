"""``analyzer verify BEFORE AFTER``: did the fix work?  Compares the exports from before and after a change.

Exit codes: 0 fixed, 1 any other status, 2 no usable input, AFTER older than BEFORE, or another server.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from analyzer.commands.output import (
    add_output_arguments,
    add_terminal_arguments,
    choose_format,
    layout_from,
    say_written,
)
from analyzer.exitcodes import EXIT_INPUT, error
from analyzer.report.diagnosis.untrusted import visible
from analyzer.report.events import output_stream
from analyzer.report.terminal import wrap

NAME = "verify"
VERIFY_FORMATS = ("text", "json", "markdown", "html")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    v: argparse.ArgumentParser = sub.add_parser(
        NAME,
        help="compare exports from before and after a fix: fixed, not yet effective, not fixed or a new problem",
        description="BEFORE and AFTER are each a file, folder or .zip of one server's exports. The status is "
        "decided in this order: not_fixed, not_effective, new_problem, fixed, else inconclusive.",
    )
    v.add_argument("before", metavar="BEFORE", help="the exports taken before the change (file, folder or .zip)")
    v.add_argument("after", metavar="AFTER", help="fresh exports taken after the change (file, folder or .zip)")
    add_output_arguments(v, VERIFY_FORMATS, what="result")
    add_terminal_arguments(v)
    return v


def run(args: argparse.Namespace) -> int:
    from analyzer.verify import VerifyError, exit_code, verify

    fmt = choose_format(args, VERIFY_FORMATS)
    try:
        result = verify(args.before, args.after)
    except VerifyError as exc:
        error(str(exc))
        return EXIT_INPUT
    text = render(result, fmt, args)
    if args.output:
        with output_stream(args.output) as out:
            out.write(text)
        layout = layout_from(args, to_file=False)
        print("\n".join(wrap(visible(result["verdict"]), layout.width)))
        say_written(args.output, f"{fmt} result")
    else:
        sys.stdout.write(text)
    return exit_code(result)


def render(result: dict[str, Any], fmt: str, args: argparse.Namespace) -> str:
    from analyzer.verify import render_text

    if fmt == "json":
        return json.dumps(result, ensure_ascii=False, indent=2) + "\n"
    lines = [visible(line, cell=True) for line in render_text(result)]
    if fmt == "markdown":
        body = "\n".join(f"    {line}" for line in lines)
        return f"# Verify: {result['status']}\n\n{_md(result['verdict'])}\n\n{body}\n"
    if fmt == "html":
        import html  # only for this format: other commands' start-up does not pay for it

        rows = "\n".join(html.escape(line) for line in lines)
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>analyzer verify: {html.escape(result['status'])}</title></head><body>"
            f"<h1>{html.escape(visible(result['verdict']))}</h1><pre>{rows}</pre></body></html>\n"
        )
    layout = layout_from(args, to_file=bool(args.output))
    style = "ok" if result["status"] == "fixed" else "action"
    dns = [*result["refused_before"], *result["newly_refused"]]
    verdict = [layout.paint(line, style) for line in wrap(visible(result["verdict"]), layout.width, keep=dns)]
    every_dn = [*dns, *result["added"], *result["removed"], *result["refused_again"]]
    facts: list[str] = []
    for line in lines:  # each fact wrapped under its own indent; a DN moves to the next line whole
        lead = " " * (len(line) - len(line.lstrip(" ")))
        facts.extend(wrap(line.strip(), layout.width, lead + "    ", lead, keep=every_dn))
    return "\n".join([*verdict, "", *facts]) + "\n"


def _md(text: str) -> str:
    return "".join("\\" + c if c in "\\`*_{}[]<>()#+-.!|" else c for c in visible(text))
