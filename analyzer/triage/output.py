"""Everything triage writes or prints; only the parent process calls it (workers never write into DIR).

* ``safe_file_name``: the ``cases/<case>.json`` name, kept inside the output folder and unique.
* ``write_json_atomic``: temp name + ``os.replace``, so an interrupted run leaves no half-written JSON.
* ``_expected_hashes`` / ``_load``: the resume check reads back a case JSON written earlier.
* ``write_summary`` / ``_frame``: summary.csv (formula-safe) and summary.parquet from the rows.
* ``render_summary``: the text the CLI prints (fitted to the terminal); ``_Progress`` / ``_log``: bar or log lines on stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.output import atomic_write
from analyzer.report.terminal import table
from analyzer.terminal import cell, json_safe, visible

if TYPE_CHECKING:
    import pandas as pd

SUMMARY_COLUMNS = ["case", "status", "rules", "dns_to_add", "logon_only_as", "inputs", "warnings", "seconds", "error"]
EXTRA_COLUMNS = ["json"]
_UNSAFE_NAME = re.compile('[\x00-\x1f\x7f/\\\\:*?"<>|\ud800-\udfff]')  # surrogates: bytes that were not UTF-8
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}

# --------------------------------------------------------------------------- case JSON and resume


def safe_file_name(name: str, used: set[str]) -> str:
    """A file name for a case that cannot leave the output folder and does not clash (case-insensitively)."""
    base = _UNSAFE_NAME.sub("_", name).strip().lstrip(".").strip() or "case"
    base = base[:120]
    if base.split(".")[0].casefold() in _RESERVED:
        base = "_" + base
    candidate, n = base, 1
    while candidate.casefold() in used:
        n += 1
        candidate = f"{base}~{n}"
    used.add(candidate.casefold())
    return candidate + ".json"


def case_json_text(doc: dict[str, Any]) -> str:
    """The text of a case JSON file.

    Names that were not valid UTF-8 are stored escaped, with their raw bytes beside them
    (``analyzer.terminal.json_safe``), so such a case is written like any other.  The workers call this
    (``cases.run_case``): encoding is most of the per-case work left in the parent process, and there
    it would not scale with ``--jobs``."""
    text = json.dumps(doc, ensure_ascii=False, indent=2, default=str)
    try:  # the common case: every string is valid UTF-8, so ``json_safe`` would change nothing
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(json_safe(doc), ensure_ascii=False, indent=2, default=str)
    return text + "\n"


def write_json_atomic(path: Path, doc: dict[str, Any], text: str | None = None, *, folder_sync: bool = True) -> None:
    """Temp file in the same folder, fsync, rename (``analyzer.output``): readers never see half a file.
    ``text``: ``case_json_text(doc)`` when a worker made it already; ``folder_sync``: see ``atomic_write``."""
    if text is None:
        text = case_json_text(doc)
    with atomic_write(path, folder_sync=folder_sync) as fh:
        fh.write(text)


def remove_stale(path: Path) -> bool:
    """Remove a case JSON left by an earlier run when the case now fails (it would contradict the summary)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def _expected_hashes(path: Path) -> tuple[tuple[str, str], ...] | None:
    """(path, sha256) of the inputs recorded in an existing case JSON, or None when unusable."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        return tuple((str(i["path"]), str(i["sha256"])) for i in doc["inputs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _load(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- summary files


def _csv_safe(value: Any) -> Any:
    """Spreadsheets run cells that start with = + - @ (and tab/CR) as formulas: neutralise them."""
    if isinstance(value, str) and value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def write_summary(frame: pd.DataFrame, out: Path) -> None:
    """summary.csv (formula-safe) and summary.parquet, each written whole or not at all.

    ``frame`` comes from ``_frame``, whose strings are valid UTF-8 already."""
    safe = frame.copy()
    for col in ("case", "rules", "dns_to_add", "logon_only_as", "error", "json"):
        safe[col] = safe[col].map(_csv_safe)
    with atomic_write(out / "summary.csv", newline="") as fh:
        safe.to_csv(fh, index=False)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        print("analyzer: warning: pyarrow is not installed; summary.parquet not written", file=sys.stderr)
        return
    with atomic_write(out / "summary.parquet", binary=True) as fh:
        frame.to_parquet(fh, index=False)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    rows = [json_safe(r) for r in rows]  # type: ignore[misc]  # names that were not UTF-8 are shown as \\xNN
    frame = pd.DataFrame.from_records(rows, columns=SUMMARY_COLUMNS + EXTRA_COLUMNS)
    return frame.astype({"inputs": "int64", "warnings": "int64", "seconds": "float64"})


# --------------------------------------------------------------------------- progress and the printed summary


class _Progress:
    """tqdm bar on a terminal, one log line per case otherwise, or nothing."""

    def __init__(self, mode: str, total: int) -> None:
        self.mode, self.total, self.done, self.bar = mode, total, 0, None

    def __enter__(self) -> _Progress:
        if self.mode == "bar":
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit="case", file=sys.stderr, dynamic_ncols=True)
        return self

    def update(self, row: dict[str, Any], *, resumed: bool) -> None:
        self.done += 1
        if self.bar is not None:
            try:
                self.bar.update(1)
                self.bar.set_postfix_str(f"{cell(row['case'], 30)}: {row['status']}")
            except (OSError, ValueError):  # stderr closed: no bar, the run goes on
                self.bar = None
        elif self.mode == "log":
            what = row["status"] + (f" {row['rules']}" if row["rules"] else "")
            if row["error"]:
                what += f" ({cell(row['error'], 200)})"
            how = "resumed" if resumed else f"{row['seconds']:.1f} s"
            _log(self.mode, f"triage [{self.done}/{self.total}] {cell(row['case'], 200)}: {what} [{how}]")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            with contextlib.suppress(OSError, ValueError):
                self.bar.close()


_STDERR_CLOSED = False


def _log(mode: str, message: str) -> None:
    """One escaped line on stderr; a closed stderr (``2>&1 | head -1``) silences the log, not the run."""
    global _STDERR_CLOSED
    if mode == "none" or _STDERR_CLOSED:
        return
    try:
        print(f"analyzer: {visible(message, cell=True)}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        _STDERR_CLOSED = True


def render_summary(frame: pd.DataFrame, width: int = 80) -> str:
    """Counts by status and by rule, then the cases that need action, fitted to ``width`` columns:
    cells wrap, and each DN to add stays whole on a line of its own (it is pasted into regedit)."""
    parts = []
    by_status = frame["status"].value_counts().reindex(["findings", "error", "clean"], fill_value=0)
    parts.append("\n".join(table(["status", "cases"], [(s, str(int(n))) for s, n in by_status.items()], width)))
    rules = frame["rules"].str.split("; ").explode()
    rules = rules[rules.astype(bool)].value_counts()
    if len(rules):
        rows = [(cell(r, 80), str(int(n))) for r, n in rules.items()]
        parts.append("\n".join(table(["rule", "cases"], rows, width)))
    action = frame[frame["status"] != "clean"]
    if len(action):
        grid = [
            (
                cell(r.case, 120),
                r.status,
                cell(r.logon_only_as, 20),
                cell(r.rules, 200).replace("; ", " "),
                "\n".join(cell(dn, 400) for dn in r.dns_to_add.split("; ")),  # one line per DN, never more
                cell(r.error, 300),
            )
            for r in action.itertuples()
        ]
        headers = ["case", "status", "logon only as", "rules", "dns to add", "error"]
        parts.append("Cases needing action:\n" + "\n".join(table(headers, grid, width, whole=("dns to add",))))
    else:
        parts.append("No case needs action.")
    return "\n\n".join(parts)
