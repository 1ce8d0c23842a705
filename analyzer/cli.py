"""Command line: the table of commands, argument parsing and the error handling they share.

Each command lives in its own module under ``analyzer.commands`` (its arguments and its ``run``);
the work happens in the library.  Exit codes and the one-line error printer are in
``analyzer.exitcodes``: 0 analysed and nothing to fix (events/registry: something was read);
1 findings that need action (diagnose, triage); 2 usage error or no usable input.  Errors are one
line each on stderr, ``analyzer: <file>: <what is wrong>``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from analyzer import __version__
from analyzer.commands import diagnose, events, languages, registry, rules, serve, triage, verify
from analyzer.exitcodes import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, UsageError, error
from analyzer.model import InputError
from analyzer.output import stdout_failed

#: Command name -> module (``add_parser(subparsers)``, ``run(args) -> exit code``), in ``--help`` order.
COMMANDS: dict[str, ModuleType] = {
    module.NAME: module for module in (diagnose, verify, triage, events, registry, rules, languages, serve)
}


class _CommandListFormatter(argparse.HelpFormatter):
    """Measures the command names at the depth they are printed, so that ``languages`` (the longest)
    keeps its help on its own line; plain argparse measures them one level shallower."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if action.help is not argparse.SUPPRESS:
            for sub in self._iter_indented_subactions(action):
                width = len(self._format_action_invocation(sub)) + self._current_indent
                self._action_max_length = max(self._action_max_length, width)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analyzer",
        formatter_class=_CommandListFormatter,
        description=(
            "Offline diagnosis of Windows/Exchange service failures from customer event logs (.evt, .evtx, "
            "Event Viewer text/CSV, DUMPEL) and registry exports (hives, .reg, regedt32 text, reg query)."
        ),
        epilog="Exit codes: 0 nothing to fix, 1 findings that need action, 2 usage error or no usable input.",
    )
    parser.add_argument("--version", action="version", version=f"analyzer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage
        return EXIT_INPUT if exc.code not in (0, None) else EXIT_OK
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_INPUT
    try:
        command = COMMANDS.get(args.command)
        if command is None:
            raise UsageError(f"unknown command {args.command!r}")
        code = int(command.run(args))
        sys.stdout.flush()  # a full device or closed pipe shows here, while errors can still be reported
        return code
    except (InputError, UsageError) as exc:
        error(str(exc))
        return EXIT_INPUT
    except KeyboardInterrupt:
        error("interrupted")
        return EXIT_INTERRUPTED
    except MemoryError:
        error("out of memory: the input needs more than the memory limit (raise it with --memory-limit)")
        return EXIT_INPUT
    except OSError as exc:
        if exc.filename is not None:  # a file the command opened itself
            error(f"{exc.filename}: {exc.strerror or exc}")
            return EXIT_INPUT
        message = stdout_failed(exc)  # standard output: /dev/full, a closed pipe (| head -1)
        if message:
            error(message)
            return EXIT_INPUT
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
