"""SQLite storage of cases, triage runs and the audit log, plus the files of each case under ``--data``.

Layout under DATA: ``analyzer.sqlite3``; ``cases/<id>/evidence/f0001.evt`` (generated names, read-only),
``cases/<id>/diagnosis.json``, ``report.html``, ``patch.reg``, ``rollback.reg``; ``triage/<run id>/``.
Customer file names live only in the database, never in a path.

Schema changes are numbered migrations (``MIGRATIONS``) applied in order on start; the database
remembers how far it got in ``PRAGMA user_version``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STATUSES = ("queued", "running", "done", "error")

MIGRATIONS: list[str] = [
    # 1: cases and the audit log
    """
    CREATE TABLE cases (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL DEFAULT 'case',      -- 'case' or 'verify' (AFTER evidence of a case)
        parent TEXT,                            -- the case a 'verify' belongs to
        status TEXT NOT NULL,
        created REAL NOT NULL,
        started REAL,
        finished REAL,
        title TEXT NOT NULL,                    -- customer file names, for display only
        files TEXT NOT NULL,                    -- JSON [{"name", "stored", "size"}]
        verdict TEXT,
        needs_action INTEGER,
        servers TEXT NOT NULL DEFAULT '',
        rules TEXT NOT NULL DEFAULT '',
        dns TEXT NOT NULL DEFAULT '',
        error TEXT
    );
    CREATE INDEX cases_status ON cases(status, created);
    CREATE TABLE log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        event TEXT NOT NULL,
        case_id TEXT,
        detail TEXT NOT NULL DEFAULT ''
    );
    """,
    # 2: triage runs of the operator's archive folder
    """
    CREATE TABLE triage_runs (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        created REAL NOT NULL,
        finished REAL,
        total INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    """,
    # 3: the archive folder a triage run works on (a run interrupted by a restart resumes on that folder)
    """
    ALTER TABLE triage_runs ADD COLUMN archive TEXT;
    """,
]


def new_id() -> str:
    """A random, URL- and path-safe id (never derived from anything a customer sent)."""
    return secrets.token_hex(8)


class Store:
    """One SQLite connection guarded by a lock (the app's threads share it) and the case folders."""

    def __init__(self, data: Path) -> None:
        self.data = Path(data)
        self.data.mkdir(parents=True, exist_ok=True)
        (self.data / "cases").mkdir(exist_ok=True)
        (self.data / "triage").mkdir(exist_ok=True)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(self.data / "analyzer.sqlite3", check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.migrate()

    # ------------------------------------------------------------------ schema

    def migrate(self) -> int:
        """Apply the migrations not yet applied; returns the schema version now in force."""
        with self.lock:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self.db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
            return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # ------------------------------------------------------------------ paths

    def case_dir(self, case_id: str) -> Path:
        if not case_id.isalnum():  # ids are hex; anything else never becomes a path
            raise KeyError(case_id)
        return self.data / "cases" / case_id

    def evidence_dir(self, case_id: str) -> Path:
        return self.case_dir(case_id) / "evidence"

    # ------------------------------------------------------------------ cases

    def add_case(
        self, case_id: str, files: list[dict[str, Any]], *, kind: str = "case", parent: str | None = None
    ) -> None:
        """Record an uploaded case (its evidence already on disk) as queued; evidence becomes read-only."""
        for f in files:
            path = self.evidence_dir(case_id) / f["stored"]
            os.chmod(path, stat.S_IRUSR | stat.S_IRGRP)
        title = ", ".join(f["name"] for f in files[:3]) + (f" (+{len(files) - 3} more)" if len(files) > 3 else "")
        with self.lock:
            self.db.execute(
                "INSERT INTO cases (id, kind, parent, status, created, title, files) VALUES (?, ?, ?, 'queued', ?, ?, ?)",
                (case_id, kind, parent, time.time(), title, json.dumps(files)),
            )
            self._log("uploaded", case_id, f"{len(files)} file(s), {sum(f['size'] for f in files)} bytes")

    def get(self, case_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()
        return _case(row) if row else None

    def list_cases(
        self, *, q: str = "", status: str = "", server: str | None = None, kind: str = "case"
    ) -> list[dict[str, Any]]:
        """Newest first; ``q`` searches file names, servers, rules, DNs and the verdict (case-insensitive);
        ``server`` keeps the cases of that server (case-insensitive), ``""`` the finished ones no server is named in."""
        sql = "SELECT * FROM cases WHERE kind = ?"
        args: list[Any] = [kind]
        if status:
            sql += " AND status = ?"
            args.append(status)
        if server == "":
            sql += " AND servers = '' AND status IN ('done', 'error')"  # finished, and no server named
        elif server is not None:
            sql += " AND ('; ' || servers || '; ') LIKE ? ESCAPE '\\'"
            args.append("%; " + _like_escaped(server) + "; %")
        if q:
            like = "%" + _like_escaped(q) + "%"
            sql += (
                " AND ("
                + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in ("title", "servers", "rules", "dns", "verdict", "id"))
                + ")"
            )
            args += [like] * 6
        sql += " ORDER BY created DESC"
        with self.lock:
            rows = self.db.execute(sql, args).fetchall()
        return [_case(r) for r in rows]

    def servers(self, kind: str = "case") -> list[str]:
        """Every server name the cases of ``kind`` name, sorted (the list page's server filter)."""
        with self.lock:
            rows = self.db.execute("SELECT DISTINCT servers FROM cases WHERE kind = ? AND servers != ''", (kind,))
            names = {n.casefold(): n for r in rows.fetchall() for n in r["servers"].split("; ") if n}
        return sorted(names.values(), key=str.casefold)

    def verifications(self, case_id: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT * FROM cases WHERE kind = 'verify' AND parent = ? ORDER BY created DESC", (case_id,)
            ).fetchall()
        return [_case(r) for r in rows]

    def claim(self, limit: int) -> list[dict[str, Any]]:
        """Mark up to ``limit`` queued cases running (oldest first) and return them."""
        with self.lock:
            rows = self.db.execute(
                "SELECT * FROM cases WHERE status = 'queued' ORDER BY created LIMIT ?", (limit,)
            ).fetchall()
            now = time.time()
            for r in rows:
                self.db.execute("UPDATE cases SET status = 'running', started = ? WHERE id = ?", (now, r["id"]))
        return [_case(r) for r in rows]

    def requeue_running(self) -> int:
        """On start: cases a previous process was running go back in the queue (nothing is lost)."""
        with self.lock:
            cur = self.db.execute("UPDATE cases SET status = 'queued', started = NULL WHERE status = 'running'")
            return cur.rowcount

    def finish(self, case_id: str, *, error: str | None = None, summary: dict[str, Any] | None = None) -> None:
        """Record the outcome of a case (``summary``: verdict, needs_action, servers, rules, dns)."""
        s = summary or {}
        with self.lock:
            self.db.execute(
                "UPDATE cases SET status = ?, finished = ?, error = ?, verdict = ?, needs_action = ?, servers = ?, "
                "rules = ?, dns = ? WHERE id = ?",
                (
                    "error" if error else "done",
                    time.time(),
                    error,
                    s.get("verdict"),
                    None if s.get("needs_action") is None else int(bool(s.get("needs_action"))),
                    s.get("servers", ""),
                    s.get("rules", ""),
                    s.get("dns", ""),
                    case_id,
                ),
            )

    def delete(self, case_id: str, *, who: str = "") -> bool:
        """Remove a case, its verifications, their evidence and derived files; the deletion is logged."""
        case = self.get(case_id)
        if case is None:
            return False
        ids = [case_id, *(v["id"] for v in self.verifications(case_id))]
        for i in ids:
            _remove_tree(self.case_dir(i))
        with self.lock:
            for i in ids:
                self.db.execute("DELETE FROM cases WHERE id = ?", (i,))
            self._log("deleted", case_id, f"{case['title']}; {len(ids) - 1} verification(s); by {who or 'unknown'}")
        return True

    def log_entries(self, case_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            if case_id is None:
                rows = self.db.execute("SELECT * FROM log ORDER BY id").fetchall()
            else:
                rows = self.db.execute("SELECT * FROM log WHERE case_id = ? ORDER BY id", (case_id,)).fetchall()
        return [dict(r) for r in rows]

    def _log(self, event: str, case_id: str | None, detail: str) -> None:
        self.db.execute(
            "INSERT INTO log (at, event, case_id, detail) VALUES (?, ?, ?, ?)", (time.time(), event, case_id, detail)
        )

    # ------------------------------------------------------------------ triage runs

    def add_run(self, run_id: str, total: int, archive: str | None = None) -> None:
        with self.lock:
            self.db.execute(
                "INSERT INTO triage_runs (id, status, created, total, archive) VALUES (?, 'running', ?, ?, ?)",
                (run_id, time.time(), total, archive),
            )
            self._log("triage started", None, f"run {run_id}: {total} case(s)")

    def finish_run(self, run_id: str, error: str | None = None) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE triage_runs SET status = ?, finished = ?, error = ? WHERE id = ?",
                ("error" if error else "done", time.time(), error, run_id),
            )

    def set_run_status(self, run_id: str, status: str, detail: str) -> None:
        """``interrupted`` (a shutdown stopped it) or ``running`` again (resumed); logged."""
        with self.lock:
            self.db.execute("UPDATE triage_runs SET status = ? WHERE id = ?", (status, run_id))
            self._log(f"triage {status}", None, f"run {run_id}: {detail}")

    def unfinished_runs(self) -> list[dict[str, Any]]:
        """Runs a previous server process did not finish (stopped, or killed while ``running``), newest first."""
        with self.lock:
            rows = self.db.execute(
                "SELECT * FROM triage_runs WHERE status IN ('running', 'interrupted') ORDER BY created DESC"
            ).fetchall()
        return [dict(r) for r in rows]

    def runs(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.db.execute("SELECT * FROM triage_runs ORDER BY created DESC")]

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT * FROM triage_runs WHERE id = ?", (run_id,)).fetchone()
        return dict(row) if row else None


def _like_escaped(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern whose escape character is a backslash."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _case(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["files"] = json.loads(d["files"])
    d["needs_action"] = None if d["needs_action"] is None else bool(d["needs_action"])
    return d


def _remove_tree(path: Path) -> None:
    """Delete a case folder although its evidence is read-only (Windows refuses read-only files)."""
    if not path.exists():
        return
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chmod(os.path.join(root, name), stat.S_IRWXU)
    shutil.rmtree(path)


def iter_case_ids(store: Store) -> Iterator[str]:
    """Every case id on record (the worker's sweep and tests)."""
    with store.lock:
        rows = store.db.execute("SELECT id FROM cases").fetchall()
    yield from (r["id"] for r in rows)
