"""Everything triage writes or prints; only the parent process calls it (workers never write into DIR).

* ``safe_file_name``: the ``cases/<case>.json`` name, kept inside the output folder and unique.
* ``write_json_atomic``: temp name + ``os.replace``, so an interrupted run leaves no half-written JSON.
* ``_expected_hashes`` / ``_load``: the resume check reads back a case JSON written earlier.
* ``write_summary`` / ``_frame``: summary.csv (formula-safe) and summary.parquet from the rows.
* ``render_summary``: the tabulate text the CLI prints; ``_Progress`` / ``_log``: bar or log lines on stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SUMMARY_COLUMNS = ["case", "status", "rules", "dns_to_add", "logon_only_as", "inputs", "warnings", "seconds", "error"]
EXTRA_COLUMNS = ["json"]
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
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


def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Write to a temp name in the same folder, then rename: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, ensure_ascii=False, indent=2, default=str)
            fh.write("\n")
        os.replace(tmp, path)  # atomic on the same file system; no fsync: a crash of the run, not of the OS
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


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
    """summary.csv (formula-safe) and summary.parquet, each written atomically."""
    csv_tmp = out / f".summary.csv.{os.getpid()}.tmp"
    safe = frame.copy()
    for col in ("case", "rules", "dns_to_add", "logon_only_as", "error", "json"):
        safe[col] = safe[col].map(_csv_safe)
    safe.to_csv(csv_tmp, index=False)
    os.replace(csv_tmp, out / "summary.csv")
    try:
        pq_tmp = out / f".summary.parquet.{os.getpid()}.tmp"
        frame.to_parquet(pq_tmp, index=False)
        os.replace(pq_tmp, out / "summary.parquet")
    except ImportError:
        print("analyzer: warning: pyarrow is not installed; summary.parquet not written", file=sys.stderr)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

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
            self.bar.update(1)
            self.bar.set_postfix_str(f"{row['case'][:30]}: {row['status']}")
        elif self.mode == "log":
            what = row["status"] + (f" {row['rules']}" if row["rules"] else "")
            if row["error"]:
                what += f" ({row['error'][:200]})"
            how = "resumed" if resumed else f"{row['seconds']:.1f} s"
            _log(self.mode, f"triage [{self.done}/{self.total}] {row['case']}: {what} [{how}]")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _log(mode: str, message: str) -> None:
    if mode != "none":
        print(f"analyzer: {message}", file=sys.stderr, flush=True)


def render_summary(frame: pd.DataFrame) -> str:
    """Counts by status and by rule, then the cases that need action (tabulate text)."""
    from tabulate import tabulate

    parts = []
    by_status = frame["status"].value_counts().reindex(["findings", "error", "clean"], fill_value=0)
    parts.append(tabulate([(s, int(n)) for s, n in by_status.items()], headers=["status", "cases"]))
    rules = frame["rules"].str.split("; ").explode()
    rules = rules[rules.astype(bool)].value_counts()
    if len(rules):
        parts.append(tabulate([(r, int(n)) for r, n in rules.items()], headers=["rule", "cases"]))
    action = frame[frame["status"] != "clean"]
    if len(action):
        table = [
            (r.case, r.status, r.logon_only_as, r.rules, r.dns_to_add.replace("; ", "\n"), _cut(r.error, 100))
            for r in action.itertuples()
        ]
        parts.append(
            "Cases needing action:\n"
            + tabulate(table, headers=["case", "status", "logon only as", "rules", "dns to add", "error"])
        )
    else:
        parts.append("No case needs action.")
    return "\n\n".join(parts)


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
