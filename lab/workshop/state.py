"""The room's progress in one SQLite file (stdlib sqlite3): students, answers, proofs, the room's seed and key.

It survives a restart: the same file gives the same exercise order (the seed), the same
instructor key and every student's progress. Students are keyed by the name they type (no
accounts); each gets a random token that marks their proof requests (``/s/<token>``).
Exercises are recorded by scenario id, so a restart with another selection keeps what was done.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lab.errors import EnvironmentError_, UserInputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS students (name TEXT PRIMARY KEY, token TEXT UNIQUE NOT NULL, joined REAL NOT NULL);
CREATE TABLE IF NOT EXISTS answers (student TEXT NOT NULL, scenario TEXT NOT NULL, cause TEXT NOT NULL,
                                    correct INTEGER NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS proofs (student TEXT NOT NULL, scenario TEXT NOT NULL, at REAL NOT NULL,
                                   PRIMARY KEY (student, scenario));
"""
MAX_NAME = 40


def clean_name(name: str) -> str:
    """A student's name as typed, trimmed; one clear error for an empty or overlong one."""
    name = " ".join(str(name).split())
    if not name:
        raise UserInputError("name: give your name (any text, e.g. 'alice')")
    if len(name) > MAX_NAME or any(not c.isprintable() for c in name):
        raise UserInputError(f"name: at most {MAX_NAME} printable characters")
    return name


class State:
    """One connection, serialised by a lock (the dashboard answers from Twisted's thread pool)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # owner-only: it holds the instructor key
            os.close(fd)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise EnvironmentError_(f"--state {path}: cannot open the progress file ({exc}); "
                                    "give a writable path with --state") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def meta(self, key: str, make: str) -> str:
        """The stored value of `key`, storing `make` first when there is none."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row:
                return str(row[0])
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, make))
            return make

    def join(self, name: str) -> str:
        """The token of student `name` (made on first join)."""
        name = clean_name(name)
        with self._tx() as db:
            row = db.execute("SELECT token FROM students WHERE name = ?", (name,)).fetchone()
            if row:
                return str(row[0])
            token = secrets.token_urlsafe(12)
            db.execute("INSERT INTO students (name, token, joined) VALUES (?, ?, ?)", (name, token, time.time()))
            return token

    def student(self, token: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT name FROM students WHERE token = ?", (token,)).fetchone()
        return str(row[0]) if row else None

    def answer(self, name: str, scenario: str, cause: str, correct: bool) -> int:
        """Record an answer; the number of wrong answers so far for this exercise."""
        with self._tx() as db:
            db.execute("INSERT INTO answers (student, scenario, cause, correct, at) VALUES (?, ?, ?, ?, ?)",
                       (name, scenario, cause, int(correct), time.time()))
            row = db.execute("SELECT COUNT(*) FROM answers WHERE student = ? AND scenario = ? AND correct = 0",
                             (name, scenario)).fetchone()
            return int(row[0])

    def prove(self, name: str, scenario: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO proofs (student, scenario, at) VALUES (?, ?, ?)",
                       (name, scenario, time.time()))

    def progress(self, name: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        """{student: {scenario: {"wrong", "solved", "proved"}}} (one student's, or the room's)."""
        where, args = ("WHERE student = ?", (name,)) if name else ("", ())
        with self._lock:
            students = [r[0] for r in self._db.execute(
                "SELECT name FROM students" + (" WHERE name = ?" if name else "") + " ORDER BY joined", args)]
            answers = self._db.execute(f"SELECT student, scenario, SUM(correct = 0), MAX(correct) FROM answers {where} "
                                       "GROUP BY student, scenario", args).fetchall()
            proofs = self._db.execute(f"SELECT student, scenario FROM proofs {where}", args).fetchall()
        out: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in students}
        for student, scenario, wrong, solved in answers:
            out.setdefault(student, {})[scenario] = {"wrong": int(wrong), "solved": bool(solved), "proved": False}
        for student, scenario in proofs:
            out.setdefault(student, {}).setdefault(scenario, {"wrong": 0, "solved": False, "proved": False})["proved"] = True
        return out
