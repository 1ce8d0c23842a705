"""Member names made safe: whatever an archive says, the result is a relative path below its folder.

Why: a member may be named ``../x``, ``/etc/x``, ``C:\\x``, ``\\\\host\\share\\x`` or hold control
characters; Windows and Unix must both see only harmless relative parts.
"""

from __future__ import annotations

import re

_DRIVE = re.compile(r"^[A-Za-z]:")
_BAD_CHARS = re.compile(r'[\x00-\x1f\x7f:*?"<>|]')
_MAX_PART_BYTES = 200


def safe_member_parts(name: str) -> tuple[list[str], bool]:
    """Split a member name into safe path parts; the flag says whether the name tried to escape.

    ``/`` and ``\\`` both separate; ``.``/``..``/empty parts, a leading root (UNC included) and a
    drive letter are dropped; control characters and ``:*?"<>|`` become ``_``; each part is cut to
    200 bytes.
    """
    unsafe = name.startswith(("/", "\\")) or bool(_DRIVE.match(name))
    parts: list[str] = []
    for raw in re.split(r"[/\\]+", name):
        if raw == "..":
            unsafe = True
            continue
        if raw in ("", "."):
            continue
        if _DRIVE.fullmatch(raw) and not parts:
            continue
        part = _BAD_CHARS.sub("_", raw).strip()
        if part in ("", ".", ".."):
            part = "_"
        while len(part.encode("utf-8")) > _MAX_PART_BYTES:
            part = part[:-1]
        parts.append(part)
    return parts, unsafe


def unique_name(rel: str, used: set[str]) -> str:
    """Two members may sanitise to the same name; the later one gets ``~2``, ``~3`` …"""
    candidate, n = rel, 1
    while candidate.casefold() in used:
        n += 1
        stem, dot, ext = rel.rpartition(".")
        candidate = f"{stem}~{n}.{ext}" if dot and "/" not in ext else f"{rel}~{n}"
    used.add(candidate.casefold())
    return candidate
