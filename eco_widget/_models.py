"""The job model: what the API says about one generation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from ._exceptions import UnexpectedResponseError
from ._params import PARAMETERS, VideoParams

__all__ = ["Job", "JobError", "JobStatus"]


class JobStatus(str, Enum):
    """The statuses the contract names. A server may send others: see ``Job.status``."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


TERMINAL = frozenset({JobStatus.COMPLETED.value, JobStatus.FAILED.value})


@dataclass(frozen=True)
class JobError:
    """Why a job failed, as the server put it."""

    type: str
    message: str


@dataclass(frozen=True)
class Job:
    """One snapshot of a job.

    ``status`` is the server's string: one of :class:`JobStatus` or, from a newer
    server, one this client does not know (never terminal). ``params`` are the
    parameters this client sent (or, for a job fetched by id, those the server echoed,
    when it does). Times are Unix seconds.
    """

    id: str
    status: str
    created: float | None = None
    model: str | None = None
    completed_at: float | None = None
    video_url: str | None = None
    duration_seconds: float | None = None
    expires_at: float | None = None
    progress: float | None = None
    error: JobError | None = None
    params: VideoParams | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the job is ``completed`` or ``failed``: it will not change again."""
        return self.status in TERMINAL

    @property
    def is_completed(self) -> bool:
        return self.status == JobStatus.COMPLETED.value

    @property
    def is_failed(self) -> bool:
        return self.status == JobStatus.FAILED.value

    @property
    def seed(self) -> int | None:
        return self.params.seed if self.params else None

    def with_params(self, params: VideoParams | None) -> Job:
        """This snapshot, keeping ``params`` when the server did not echo them."""
        if params is None or self.params == params:
            return self
        return replace(self, params=params)

    @classmethod
    def from_payload(cls, payload: Any, *, params: VideoParams | None = None) -> Job:
        """Read a job object from a decoded JSON body, ignoring fields it does not know.

        Raises :class:`UnexpectedResponseError` when the body has no usable id or status.
        """
        if not isinstance(payload, Mapping):
            raise UnexpectedResponseError(f"expected a job object, got {type(payload).__name__}")
        job_id = payload.get("id")
        status = payload.get("status")
        if not isinstance(job_id, str) or not job_id:
            raise UnexpectedResponseError("the job object has no 'id'")
        if not isinstance(status, str) or not status:
            raise UnexpectedResponseError(f"job {job_id} has no 'status'")
        error = payload.get("error")
        job_error = None
        if isinstance(error, Mapping):
            job_error = JobError(
                type=str(error.get("type") or "error"), message=str(error.get("message") or "")
            )
        elif isinstance(error, str):
            job_error = JobError(type="error", message=error)
        url = payload.get("video_url")
        return cls(
            id=job_id,
            status=status,
            created=_number(payload.get("created")),
            model=payload.get("model") if isinstance(payload.get("model"), str) else None,
            completed_at=_number(payload.get("completed_at")),
            video_url=url if isinstance(url, str) and url else None,
            duration_seconds=_number(payload.get("duration_seconds")),
            expires_at=_number(payload.get("expires_at")),
            progress=_fraction(payload.get("progress")),
            error=job_error,
            params=params if params is not None else _echoed_params(payload),
        )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _fraction(value: Any) -> float | None:
    number = _number(value)
    return None if number is None else min(1.0, max(0.0, number))


def _echoed_params(payload: Mapping[str, Any]) -> VideoParams | None:
    """The parameters a server echoed in a job object, when they are all there and valid."""
    if not isinstance(payload.get("prompt"), str):
        return None
    fields = {name: payload.get(name) for name in PARAMETERS}
    if any(value is None for value in fields.values()):
        return None
    try:
        return VideoParams.create(payload["prompt"], **fields)
    except ValueError:
        return None
