"""The command-line commands, one module per command.

Each module offers ``NAME``, ``add_parser(subparsers)`` (its arguments, documented in ``--help``) and
``run(args) -> int`` (the exit code of ``analyzer.exitcodes``).  ``analyzer.cli`` holds the table of
commands and the error handling common to all of them; the work itself happens in the library.
"""
