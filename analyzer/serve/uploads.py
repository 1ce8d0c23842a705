"""Streamed multipart uploads: each file goes to disk as it arrives, under a generated name, within limits.

Customer file names are kept only as data (for display); the stored name is ``f0001`` plus, when it is
a plain short one, the lowercased extension (readers recognise files by content, the extension only
helps a human).  A request over the size or file-count limit is refused and whatever it wrote removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header

_SAFE_EXT = re.compile(r"\.[a-z0-9]{1,5}")


class UploadError(Exception):
    """The upload is refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """What a multipart request brought: files stored in ``folder`` and the plain form fields."""

    folder: Path
    files: list[dict[str, Any]] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        for f in self.files:
            with contextlib.suppress(OSError):
                os.remove(self.folder / f["stored"])


def display_name(name: str) -> str:
    """The customer's file name as shown: last path component, control characters removed, bounded."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    return name[:200] or "unnamed"


def stored_name(n: int, original: str) -> str:
    ext = os.path.splitext(original)[1].lower()
    return f"f{n:04d}{ext if _SAFE_EXT.fullmatch(ext) else ''}"


async def receive_files(
    headers: Any,
    stream: AsyncIterator[bytes],
    folder: Path,
    *,
    max_bytes: int,
    max_files: int,
    field_name: str = "files",
) -> Upload:
    """Parse a multipart/form-data body from ``stream``; files of ``field_name`` are written into ``folder``."""
    ctype, params = parse_options_header(headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise UploadError(415, "expected multipart/form-data with a 'files' field")
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise UploadError(413, f"upload too large: {int(length)} bytes (limit {max_bytes})")
    folder.mkdir(parents=True, exist_ok=True)
    upload = Upload(folder)
    state: dict[str, Any] = {"headers": {}, "field": b"", "value": b"", "fh": None, "buf": None, "total": 0}

    def on_part_begin() -> None:
        state["headers"] = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"] = state["value"] = b""

    def on_headers_finished() -> None:
        _disp, opts = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in opts and name == field_name:
            original = opts[b"filename"].decode("utf-8", "replace")
            if not original:  # an empty file input of a form posted without a choice
                state["fh"], state["buf"] = None, None
                state["skip"] = True
                return
            if len(upload.files) >= max_files:
                raise UploadError(413, f"too many files (limit {max_files})")
            stored = stored_name(len(upload.files) + 1, original)
            upload.files.append({"name": display_name(original), "stored": stored, "size": 0})
            state["fh"] = open(folder / stored, "xb")  # noqa: SIM115 - closed in on_part_end
            state["buf"] = None
        else:
            state["fh"], state["buf"] = None, bytearray()
            state["fname"] = name
        state["skip"] = False

    def on_part_data(data: bytes, start: int, end: int) -> None:
        n = end - start
        state["total"] += n
        if state["total"] > max_bytes:
            raise UploadError(413, f"upload too large (limit {max_bytes} bytes)")
        if state["fh"] is not None:
            state["fh"].write(data[start:end])
            upload.files[-1]["size"] += n
        elif state["buf"] is not None:
            if len(state["buf"]) + n > 4096:
                raise UploadError(400, "form field too long")
            state["buf"] += data[start:end]

    def on_part_end() -> None:
        if state["fh"] is not None:
            state["fh"].close()
            state["fh"] = None
        elif state["buf"] is not None and not state.get("skip"):
            upload.fields[state["fname"]] = bytes(state["buf"]).decode("utf-8", "replace")
        state["buf"] = None

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    parser = MultipartParser(params[b"boundary"], callbacks)
    try:
        async for chunk in stream:
            parser.write(chunk)
        parser.finalize()
    except UploadError:
        _abort(state, upload)
        raise
    except Exception as exc:  # a malformed body
        _abort(state, upload)
        raise UploadError(400, f"malformed multipart body: {exc}") from None
    if not upload.files:
        raise UploadError(400, "no file in the 'files' field")
    return upload


def _abort(state: dict[str, Any], upload: Upload) -> None:
    if state.get("fh") is not None:
        state["fh"].close()
    upload.discard()
