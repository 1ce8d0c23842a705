"""Settings of one ``analyzer serve`` instance (all injectable, so tests can shrink limits and time)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_MAX_UPLOAD = 512 << 20  # bytes per upload request (all files together)
DEFAULT_MAX_FILES = 500  # files per upload request


@dataclass
class ServeConfig:
    """Where the data lives, who may come in and how much work is accepted."""

    data: Path
    token: str | None = None
    archive: Path | None = None
    max_upload: int = DEFAULT_MAX_UPLOAD
    max_files: int = DEFAULT_MAX_FILES
    jobs: int = 2
    case_timeout: float | None = 600.0
    memory_limit: int | None = 3 << 30
    kill_grace: float = 10.0
    poll_seconds: float = 1.0  # how often the queue is looked at when nobody wakes the worker
    start_worker: bool = True  # tests of the HTTP layer alone may switch the background work off
    case_function: Callable[..., dict[str, Any]] | None = None  # module-level stand-in for the diagnosis (tests)
    secure_cookies: bool = False  # behind an https proxy: cookies are Secure even when the proxy speaks http to us
    #: called in the server after each case of a triage run is recorded: (run id, summary row, resumed?);
    #: tests stop the server at an exact point of a run with it
    on_triage_case: Callable[[str, dict[str, Any], bool], None] | None = None


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; anything else is reachable by others."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
