"""The job store: SQLite (``jobs.sqlite3``, WAL) plus one MP4 file per completed job.

Several server processes may share a data directory (two notebook kernels each running
the sandbox on one cache folder), so every change is a short ``BEGIN IMMEDIATE``
transaction and every job has an owner: the server instance running it. A ``servers``
table records each instance's pid and heartbeat; a job whose owner stopped, died or
went silent for more than 30 s is claimed, atomically, by a live server and resumed.

API keys are never stored: jobs carry the SHA-256 hash of the key that created them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .._params import VideoParams
from .._process import process_running
from ._records import ACTIVE, STATUSES, JobRecord, TooManyActiveJobs, new_job_id
from ._timing import Plan

__all__ = ["JobStore"]

HEARTBEAT_STALE_SECONDS = 30.0
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS servers (
    token TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started REAL NOT NULL,
    heartbeat REAL NOT NULL,
    stopped INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    started_at REAL,
    completed_at REAL,
    params TEXT NOT NULL,
    error TEXT,
    queue_seconds REAL NOT NULL,
    processing_seconds REAL NOT NULL,
    owner TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_key_status ON jobs (key_hash, status);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status);
"""


class JobStore:
    """Jobs and videos in ``data_dir``. Thread-safe; every method is short."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.videos_dir = data_dir / "videos"
        self.path = data_dir / "jobs.sqlite3"
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.videos_dir.mkdir(mode=0o700, exist_ok=True)
        self._host = socket.gethostname()
        self._lock = threading.Lock()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        self._db = sqlite3.connect(
            self.path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        with self._transaction() as db:
            if db.execute("PRAGMA user_version").fetchone()[0] < _SCHEMA_VERSION:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _select(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- jobs -----------------------------------------------------------------------

    def create_job(
        self,
        key_hash: str,
        params: VideoParams,
        plan: Plan,
        *,
        owner: str,
        max_active: int,
        now: float,
    ) -> JobRecord:
        """Insert a queued job, or raise :class:`TooManyActiveJobs` (count and insert
        are one transaction, so concurrent submits cannot overshoot the limit)."""
        if params.seed is None:
            raise ValueError("a job's parameters must carry a seed")
        job_id = new_job_id()
        with self._transaction() as db:
            active = db.execute(
                "SELECT * FROM jobs WHERE key_hash = ? AND status IN (?, ?)", (key_hash, *ACTIVE)
            ).fetchall()
            if len(active) >= max_active:
                raise TooManyActiveJobs([JobRecord.from_row(row) for row in active])
            db.execute(
                "INSERT INTO jobs (id, key_hash, status, created, params, queue_seconds,"
                " processing_seconds, owner) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                (
                    job_id,
                    key_hash,
                    now,
                    json.dumps(asdict(params)),
                    plan.queue_seconds,
                    plan.processing_seconds,
                    owner,
                ),
            )
        record = self.get(job_id)
        assert record is not None
        return record

    def get(self, job_id: str) -> JobRecord | None:
        rows = self._select("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return JobRecord.from_row(rows[0]) if rows else None

    def key_hash_of(self, job_id: str) -> str | None:
        rows = self._select("SELECT key_hash FROM jobs WHERE id = ?", (job_id,))
        return rows[0]["key_hash"] if rows else None

    def counts_by_status(self, key_hash: str) -> dict[str, int]:
        rows = self._select(
            "SELECT status, COUNT(*) AS n FROM jobs WHERE key_hash = ? GROUP BY status",
            (key_hash,),
        )
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({row["status"]: row["n"] for row in rows})
        return counts

    def start_processing(self, job_id: str, owner: str, started_at: float) -> bool:
        """Mark the job processing from ``started_at`` (again, after a restart)."""
        return self._update(
            "UPDATE jobs SET status = 'processing', started_at = ?"
            " WHERE id = ? AND owner = ? AND status IN (?, ?)",
            (started_at, job_id, owner, *ACTIVE),
        )

    def complete(self, job_id: str, owner: str, completed_at: float) -> bool:
        """Mark the job completed; its video file must already be written."""
        return self._update(
            "UPDATE jobs SET status = 'completed', completed_at = ?"
            " WHERE id = ? AND owner = ? AND status = 'processing'",
            (completed_at, job_id, owner),
        )

    def fail(self, job_id: str, owner: str, error: dict[str, str], now: float) -> bool:
        return self._update(
            "UPDATE jobs SET status = 'failed', error = ?, completed_at = ?"
            " WHERE id = ? AND owner = ? AND status IN (?, ?)",
            (json.dumps(error), now, job_id, owner, *ACTIVE),
        )

    def _update(self, sql: str, args: tuple[Any, ...]) -> bool:
        with self._transaction() as db:
            return db.execute(sql, args).rowcount == 1

    # -- videos ---------------------------------------------------------------------

    def video_path(self, job_id: str) -> Path:
        return self.videos_dir / f"{job_id}.mp4"

    def write_video(self, job_id: str, data: bytes) -> None:
        """Write the job's MP4 atomically (a temporary file, then ``os.replace``)."""
        final = self.video_path(job_id)
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp")
        try:
            with open(tmp, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)

    # -- server instances -----------------------------------------------------------

    def register_server(self, token: str, now: float) -> None:
        with self._transaction() as db:
            # Forget instances long gone (their jobs are claimable either way).
            db.execute("DELETE FROM servers WHERE heartbeat < ?", (now - 86400.0,))
            db.execute(
                "INSERT INTO servers (token, host, pid, started, heartbeat) VALUES (?, ?, ?, ?, ?)",
                (token, self._host, os.getpid(), now, now),
            )

    def heartbeat(self, token: str, now: float) -> None:
        self._update("UPDATE servers SET heartbeat = ? WHERE token = ?", (now, token))

    def server_stopped(self, token: str, now: float) -> None:
        self._update("UPDATE servers SET stopped = 1, heartbeat = ? WHERE token = ?", (now, token))

    def claim_orphans(self, token: str, now: float) -> list[JobRecord]:
        """Take over the active jobs whose owner is gone; return them.

        An owner is gone when it stopped cleanly, when its process is dead (same host)
        or when its heartbeat is more than 30 s old. Runs in one write transaction, so
        two servers never claim the same job.
        """
        with self._transaction() as db:
            live = {
                row["token"]
                for row in db.execute("SELECT * FROM servers WHERE stopped = 0").fetchall()
                if row["heartbeat"] >= now - HEARTBEAT_STALE_SECONDS
                and (row["host"] != self._host or process_running(row["pid"]))
            }
            live.add(token)
            rows = db.execute(
                "SELECT * FROM jobs WHERE status IN (?, ?) ORDER BY created", ACTIVE
            ).fetchall()
            orphans = [row for row in rows if row["owner"] not in live]
            for row in orphans:
                db.execute("UPDATE jobs SET owner = ? WHERE id = ?", (token, row["id"]))
        claimed = [self.get(row["id"]) for row in orphans]
        return [record for record in claimed if record is not None]
