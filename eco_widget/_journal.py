"""The job journal: every submitted job, kept in a local SQLite file so that no video
is lost to a kernel restart, a crash or an expiring URL.

One row per job (base URL and id): parameters and seed, times, status, when the video
URL expires, where the video was saved. Never the API key, never the signed URL: the
account is a short hash of the key. Several kernels and processes may share the file
(WAL, short transactions, a busy timeout). A damaged journal, or one written by a newer
eco_widget, raises :class:`JournalError` and is never overwritten.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

from ._exceptions import JournalError
from ._journal_entry import EXPIRED, LOST, SUBMITTING, JournalEntry, session_id
from ._models import TERMINAL, Job
from ._params import PARAMETERS, VideoParams

__all__ = [
    "EXPIRED",
    "LOST",
    "SCHEMA_VERSION",
    "SUBMITTING",
    "Journal",
    "JournalEntry",
    "journal_path",
    "session_id",
]

#: The journal's layout; a file with a higher ``user_version`` is refused.
SCHEMA_VERSION = 1
_FINAL = frozenset(TERMINAL | {EXPIRED, LOST})
_BUSY_TIMEOUT_MS = 30_000
#: Every write reaches the disk before it returns: a job id survives a power cut too.
SYNCHRONOUS = "FULL"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    base_url TEXT NOT NULL,
    job_id TEXT NOT NULL,
    account TEXT NOT NULL,
    prompt TEXT,
    num_frames INTEGER,
    fps INTEGER,
    num_inference_steps INTEGER,
    guidance_scale REAL,
    seed INTEGER,
    status TEXT NOT NULL,
    progress REAL,
    submitted_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    created REAL,
    completed_at REAL,
    expires_at REAL,
    saved_path TEXT,
    saved_size INTEGER,
    error_type TEXT,
    error_message TEXT,
    batch TEXT,
    batch_index INTEGER,
    session TEXT,
    PRIMARY KEY (base_url, job_id)
);
CREATE INDEX IF NOT EXISTS jobs_open ON jobs (base_url, account, status);
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs (batch, batch_index);
"""


def journal_path() -> Path:
    """Where the journal lives: ``journal.sqlite3`` in the data folder
    (``ECOHASH_HOME``)."""
    from ._paths import data_home

    return data_home() / "journal.sqlite3"


_COLUMNS = tuple(f.name for f in fields(JournalEntry))
_PARAM_COLUMNS = tuple(PARAMETERS)
_checked: set[tuple[str, int, int]] = set()
_checked_lock = threading.Lock()


class Journal:
    """The journal file at ``path`` (default :func:`journal_path`), opened per operation.

    Nothing is created until the first write; reading a journal that does not exist
    gives no entries.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else journal_path()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    # -- connections --------------------------------------------------------------------
    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        if not create and not self.path.exists():
            return None
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._damaged(exc) from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            self._check(conn)
            conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _check(self, conn: sqlite3.Connection) -> None:
        """Refuse a damaged or newer journal; make the tables once per process."""
        try:
            stat = os.stat(self.path)
        except OSError:
            stat = None
        key = (str(self.path.resolve()), stat.st_dev, stat.st_ino) if stat else None
        with _checked_lock:
            if key in _checked:
                return
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise JournalError(
                        f"the job journal {self.path} was written by a newer eco_widget "
                        f"(layout {version}; this one reads up to {SCHEMA_VERSION}). It was "
                        "left as it is: upgrade eco_widget, or set ECOHASH_HOME to use "
                        "another folder.",
                        path=self.path,
                    )
                problem = conn.execute("PRAGMA quick_check").fetchone()[0]
                if problem != "ok":
                    raise JournalError(self._damaged_message(problem), path=self.path)
                if version < SCHEMA_VERSION:
                    _create(conn)
            except sqlite3.Error as exc:
                raise self._damaged(exc) from exc
            if key is not None:
                _checked.add(key)

    def _damaged_message(self, problem: object) -> str:
        return (
            f"the job journal {self.path} is damaged ({problem}). It was left as it is, so "
            "nothing in it is lost: move it aside (a new one is made) or repair it with "
            "`sqlite3 journal.sqlite3 .recover`; the saved videos are in the videos "
            "folder beside it."
        )

    def _damaged(self, exc: sqlite3.Error) -> JournalError:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return JournalError(
                f"the job journal {self.path} stayed locked by another process for "
                f"{_BUSY_TIMEOUT_MS // 1000} s",
                path=self.path,
            )
        return JournalError(self._damaged_message(exc), path=self.path)

    def _write(self, sql: str, args: Iterable[Any], *more: tuple[str, Iterable[Any]]) -> None:
        """Run one or more statements in one transaction."""
        conn = self._connect(create=True)
        assert conn is not None
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement, values in ((sql, args), *more):
                conn.execute(statement, tuple(values))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self._damaged(exc) from exc
        finally:
            conn.close()

    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[JournalEntry]:
        conn = self._connect(create=False)
        if conn is None:
            return []
        try:
            rows = conn.execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise self._damaged(exc) from exc
        finally:
            conn.close()
        return [JournalEntry(*row) for row in rows]

    def check(self) -> None:
        """Make sure the journal can be written (creating it if need be); raises
        :class:`JournalError` otherwise. Called before a submission, so that a job is
        never billed without a journal to keep it in."""
        conn = self._connect(create=True)
        assert conn is not None
        conn.close()

    # -- writing ------------------------------------------------------------------------
    def reserve(
        self,
        params: VideoParams,
        *,
        base_url: str,
        account: str,
        batch: tuple[str, int] | None = None,
    ) -> str:
        """Write the row of a submission about to be sent (status ``submitting``, with
        its parameters and seed) and return its reservation, which :meth:`record`
        replaces by the job's id. Raises :class:`JournalError` when the journal cannot
        be written: then nothing may be sent."""
        reservation = f"{SUBMITTING}-{secrets.token_hex(8)}"
        self._upsert(_row(reservation, SUBMITTING, params, base_url, account, batch))
        return reservation

    def unreserve(self, base_url: str, reservation: str, unknown: str | None = None) -> None:
        """A submission got no job: remove its row (``unknown`` is ``None``: nothing was
        created), or keep it ``submitting`` with why its outcome is unknown."""
        if unknown is None:
            self._write(
                "DELETE FROM jobs WHERE base_url = ? AND job_id = ? AND status = ?",
                (base_url, reservation, SUBMITTING),
            )
        else:
            self._write(
                "UPDATE jobs SET error_message = ?, updated_at = ? "
                "WHERE base_url = ? AND job_id = ? AND status = ?",
                (unknown, time.time(), base_url, reservation, SUBMITTING),
            )

    def record(
        self,
        job: Job,
        *,
        base_url: str,
        account: str,
        batch: tuple[str, int] | None = None,
        now: float | None = None,
        reservation: str | None = None,
    ) -> None:
        """Insert or update a job from a snapshot; with ``reservation``, the row written
        before its submission becomes the job's (in one transaction). A final status
        never goes back (snapshots may arrive out of order from several processes)."""
        row = _row(job.id, job.status, job.params, base_url, account, batch, now)
        error = job.error
        row.update(
            progress=job.progress,
            created=job.created,
            completed_at=job.completed_at,
            expires_at=job.expires_at,
            error_type=error.type if error else None,
            error_message=error.message if error else None,
        )
        claim: tuple[tuple[str, Iterable[Any]], ...] = ()
        if reservation is not None:
            claim = (
                (
                    "UPDATE OR IGNORE jobs SET job_id = ? WHERE base_url = ? AND job_id = ?",
                    (job.id, base_url, reservation),
                ),
                ("DELETE FROM jobs WHERE base_url = ? AND job_id = ?", (base_url, reservation)),
            )
        self._upsert(row, *claim)

    def _upsert(self, row: dict[str, Any], *before: tuple[str, Iterable[Any]]) -> None:
        final = ", ".join(f"'{s}'" for s in sorted(_FINAL))
        keep = ("prompt", *PARAMETERS)
        updates = [f"{c} = COALESCE(jobs.{c}, excluded.{c})" for c in keep]
        updates += [
            f"status = CASE WHEN jobs.status IN ({final}) THEN jobs.status "
            "ELSE excluded.status END",
            "updated_at = excluded.updated_at",
        ]
        for c in ("progress", "created", "completed_at", "expires_at", "error_type"):
            updates.append(f"{c} = COALESCE(excluded.{c}, jobs.{c})")
        updates.append("error_message = COALESCE(excluded.error_message, jobs.error_message)")
        updates.append("batch = COALESCE(jobs.batch, excluded.batch)")
        updates.append("batch_index = COALESCE(jobs.batch_index, excluded.batch_index)")
        updates.append("session = COALESCE(jobs.session, excluded.session)")
        upsert = (
            f"INSERT INTO jobs ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_COLUMNS))}) "
            f"ON CONFLICT (base_url, job_id) DO UPDATE SET {', '.join(updates)}"
        )
        values = [row[c] for c in _COLUMNS]
        if before:
            self._write(before[0][0], before[0][1], *before[1:], (upsert, values))
        else:
            self._write(upsert, values)

    def record_saved(self, base_url: str, job_id: str, path: Path) -> None:
        """Note where a job's video was saved (and its size, to notice a damaged file)."""
        size = path.stat().st_size
        self._write(
            "UPDATE jobs SET saved_path = ?, saved_size = ?, updated_at = ?, "
            "status = CASE WHEN status IN (?, ?) THEN 'completed' ELSE status END "
            "WHERE base_url = ? AND job_id = ?",
            (os.path.abspath(path), size, time.time(), EXPIRED, LOST, base_url, job_id),
        )

    def record_outcome(self, base_url: str, job_id: str, status: str, message: str) -> None:
        """Mark a job ``expired`` or ``lost``: reported once, not retried again."""
        self._write(
            "UPDATE jobs SET status = ?, error_message = ?, updated_at = ? "
            "WHERE base_url = ? AND job_id = ? AND saved_path IS NULL",
            (status, message, time.time(), base_url, job_id),
        )

    # -- reading ------------------------------------------------------------------------
    def get(self, base_url: str, job_id: str) -> JournalEntry | None:
        """The entry of one job, if the journal has it."""
        rows = self._read(
            f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE base_url = ? AND job_id = ?",
            (base_url, job_id),
        )
        return rows[0] if rows else None

    def entries(
        self,
        *,
        base_url: str | None = None,
        account: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        """Entries, newest first, optionally of one base URL, account or status."""
        where, args = _filters(base_url=base_url, account=account, status=status)
        sql = (
            f"SELECT {', '.join(_COLUMNS)} FROM jobs{where} ORDER BY submitted_at DESC, rowid DESC"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._read(sql, args)

    def unfinished(self, base_url: str, account: str) -> list[JournalEntry]:
        """Jobs of one account still to recover, oldest first: not terminal, or completed
        and not saved (expired and lost ones were reported already)."""
        return self._read(
            f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE base_url = ? AND account = ? "
            "AND saved_path IS NULL AND status NOT IN (?, ?, ?, ?) "
            "ORDER BY submitted_at, rowid",
            (base_url, account, "failed", EXPIRED, LOST, SUBMITTING),
        )

    def batch(self, key: str) -> dict[int, JournalEntry]:
        """The latest entry of each item of a batch."""
        latest: dict[int, JournalEntry] = {}
        rows = self._read(
            f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE batch = ? ORDER BY submitted_at, rowid",
            (key,),
        )
        for entry in rows:
            if entry.batch_index is not None:
                latest[entry.batch_index] = entry
        return latest

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries())


def _row(
    job_id: str,
    status: str,
    params: VideoParams | None,
    base_url: str,
    account: str,
    batch: tuple[str, int] | None,
    now: float | None = None,
) -> dict[str, Any]:
    """A whole row: the job's identity and parameters; the rest empty."""
    now = time.time() if now is None else now
    row: dict[str, Any] = dict.fromkeys(_COLUMNS)
    row.update(
        base_url=base_url,
        job_id=job_id,
        account=account,
        status=status,
        submitted_at=now,
        updated_at=now,
        batch=batch[0] if batch else None,
        batch_index=batch[1] if batch else None,
        session=session_id(),
    )
    if params is not None:
        row.update({name: getattr(params, name) for name in _PARAM_COLUMNS}, prompt=params.prompt)
    return row


def _create(conn: sqlite3.Connection) -> None:
    """Make the tables (and switch to WAL). Another process may be doing the same at
    this moment: switching the journal mode does not wait for the busy timeout, so a
    "locked" answer is tried again until that timeout has passed."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            conn.executescript(_SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")
            if conn.in_transaction:
                conn.execute("COMMIT")
            return
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _filters(**conditions: str | None) -> tuple[str, list[Any]]:
    clauses, args = [], []
    for column, value in conditions.items():
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args
