"""What the store holds about a job, and how API keys are represented: by a hash."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from .._exceptions import InvalidParameterError
from .._params import VideoParams, validate_body

__all__ = [
    "ACTIVE",
    "STATUSES",
    "JobRecord",
    "TooManyActiveJobs",
    "hash_key",
    "new_job_id",
]

STATUSES = ("queued", "processing", "completed", "failed")
ACTIVE = ("queued", "processing")


def hash_key(api_key: str) -> str:
    """The hex SHA-256 of an API key: what the store keeps instead of the key."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def new_job_id() -> str:
    return "vid_" + secrets.token_hex(12)


class TooManyActiveJobs(Exception):
    """The key already has the maximum number of queued or processing jobs."""

    def __init__(self, active: list[JobRecord]) -> None:
        self.active = active
        super().__init__(f"{len(active)} active jobs")


@dataclass(frozen=True)
class JobRecord:
    """One row of the ``jobs`` table. Times are Unix seconds.

    ``params`` is ``None`` when the stored parameters cannot be read; ``params_error``
    then says why.
    """

    id: str
    key_hash: str
    status: str
    created: float
    started_at: float | None
    completed_at: float | None
    params: VideoParams | None
    params_error: str | None
    error: dict[str, Any] | None
    queue_seconds: float
    processing_seconds: float
    owner: str | None

    @property
    def expected_completion(self) -> float:
        """When the job should complete if its render keeps up with its plan."""
        if self.status == "processing" and self.started_at is not None:
            return self.started_at + self.processing_seconds
        return self.created + self.queue_seconds + self.processing_seconds

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JobRecord:
        params, params_error = _read_params(row["params"])
        error = json.loads(row["error"]) if row["error"] else None
        return cls(
            id=row["id"],
            key_hash=row["key_hash"],
            status=row["status"],
            created=row["created"],
            started_at=row["started_at"],
            completed_at=row["completed_at"],
            params=params,
            params_error=params_error,
            error=error,
            queue_seconds=row["queue_seconds"],
            processing_seconds=row["processing_seconds"],
            owner=row["owner"],
        )


def _read_params(text: str) -> tuple[VideoParams | None, str | None]:
    try:
        params = validate_body(json.loads(text))
    except (ValueError, TypeError, InvalidParameterError) as exc:
        return None, str(exc) or type(exc).__name__
    if params.seed is None:
        return None, "no seed was stored"
    return params, None
