"""Exit codes and the one-line error printer shared by every command.

A leaf module (it imports only the escaping function at run time) so that commands, reports and the
argument parser can all use it without importing one another.

Exit codes: 0 analysed and nothing to fix (events/registry: something was read); 1 findings that
need action (diagnose, triage); 2 usage error or no usable input; 130 interrupted.  Errors are one
line each on stderr, ``analyzer: <file>: <what is wrong>``.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING

from analyzer.terminal import visible

if TYPE_CHECKING:
    from analyzer.model import ReadWarning

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # SIGTERM (triage)


class UsageError(Exception):
    """Bad arguments detected after parsing (e.g. an unknown time zone)."""


def error(message: str) -> None:
    """Print one error line on stderr, prefixed with the program name.

    The message usually names a customer file and may quote its content: it is escaped
    (``analyzer.terminal.visible``) so that it stays one line and cannot drive the terminal."""
    _say(f"analyzer: {visible(message, cell=True)}")


def _say(line: str) -> None:
    """A closed stderr (``2>&1 | head -1``) is no reason to stop or to print a traceback."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr)


def warn_to_stderr(warning: ReadWarning) -> None:
    """A ``WarningSink`` for the command line: one ``analyzer: warning: …`` line per warning (``note`` for how
    a file was read, e.g. its language and code page)."""
    kind = "note" if getattr(warning, "is_note", False) else "warning"
    _say(f"analyzer: {kind}: {visible(str(warning), cell=True)}")
