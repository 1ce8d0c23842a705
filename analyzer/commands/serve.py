"""``analyzer serve``: the case-intake web application (``analyzer.serve``).

Loopback by default; any other ``--host`` needs ``--token`` or ``--token-file`` (exit 2 otherwise).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from analyzer.exitcodes import EXIT_OK, UsageError
from analyzer.report.diagnosis.links import KbUrlError, kb_url_template

NAME = "serve"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        NAME,
        help="start the case-intake web page (upload, report, case list, verify, triage)",
        description="Serve the team's case-intake page. Loopback only unless a token is given.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument(
        "--data",
        default="analyzer-data",
        metavar="DIR",
        help="database, evidence and reports (default ./analyzer-data)",
    )
    p.add_argument("--token", help="access token every request must carry (required for a non-loopback --host)")
    p.add_argument("--token-file", metavar="FILE", help="read the token from FILE (first line)")
    p.add_argument("--archive", metavar="DIR", help="archive folder the triage page may diagnose")
    p.add_argument("--jobs", type=int, default=2, help="worker processes for diagnoses (default 2)")
    p.add_argument("--max-upload-mb", type=int, default=512, help="largest upload in MiB (default 512)")
    p.add_argument("--case-timeout", type=float, default=600.0, help="seconds per case before its worker is killed")
    p.add_argument(
        "--behind-https-proxy",
        "--secure-cookies",
        dest="secure_cookies",
        action="store_true",
        help="clients reach the server over https through a reverse proxy: mark every cookie Secure "
        "(requests that arrive over https get Secure cookies anyway)",
    )
    return p


def config_from(args: argparse.Namespace) -> Any:
    """Check the flags and build the ServeConfig (UsageError: exit 2)."""
    from analyzer.serve.config import ServeConfig, is_loopback

    token = args.token
    if getattr(args, "token_file", None):
        try:
            with open(args.token_file, encoding="utf-8") as fh:
                token = fh.readline().strip()
        except OSError as exc:
            raise UsageError(f"{args.token_file}: cannot read the token file: {exc.strerror or exc}") from None
        if not token:
            raise UsageError(f"{args.token_file}: the token file is empty")
    if not is_loopback(args.host) and not token:
        raise UsageError(f"--host {args.host} is reachable by others: give --token or --token-file")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port}: not a port number")
    archive = Path(args.archive) if args.archive else None
    if archive is not None and not archive.is_dir():
        raise UsageError(f"{args.archive}: no such folder")
    if args.jobs < 1 or args.max_upload_mb < 1:
        raise UsageError("--jobs and --max-upload-mb must be at least 1")
    try:  # the reports the server writes link KB numbers as ANALYZER_KB_URL says: refuse a bad one now
        kb_url_template()
    except KbUrlError as exc:
        raise UsageError(str(exc)) from None
    return ServeConfig(
        data=Path(args.data),
        token=token or None,
        archive=archive,
        jobs=args.jobs,
        max_upload=args.max_upload_mb << 20,
        case_timeout=args.case_timeout,
        secure_cookies=bool(getattr(args, "secure_cookies", False)),
    )


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    import uvicorn

    from analyzer.serve.app import create_app

    os.makedirs(config.data, exist_ok=True)
    print(f"analyzer serve: http://{args.host}:{args.port}/ (data in {config.data})", flush=True)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")
    return EXIT_OK
