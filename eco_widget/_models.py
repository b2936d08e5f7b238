"""The job model: what the API says about one generation."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from ._exceptions import UnexpectedResponseError
from ._params import PARAMETERS, VideoParams
from ._untrusted import escape_controls, redact

__all__ = ["JOB_ID", "Job", "JobError", "JobStatus", "check_job_id"]

#: What a job id is: 1 to 128 letters, digits, ``_`` or ``-``. It names files and URL
#: paths, so nothing else (no ``/``, ``..``, spaces or control characters) is accepted.
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_JOB_ID_RULE = "a job id is 1 to 128 letters, digits, '_' or '-'"


def check_job_id(
    value: Any,
    *,
    source: str = "the job id",
    field: str | None = None,
    secrets: Iterable[str] = (),
) -> str:
    """``value`` if it is a job id (:data:`JOB_ID`), else :class:`UnexpectedResponseError`
    saying where it came from (``source``, e.g. ``"the server's job id"``, and the
    ``field``). An id holding one of ``secrets`` (or a key this process used) is refused
    too, without showing it."""
    where = f" (field {field})" if field else ""
    if isinstance(value, str) and JOB_ID.fullmatch(value):
        if redact(value, secrets) == value:
            return value
        raise UnexpectedResponseError(f"{source}{where} holds the API key: it is not a job id")
    raise UnexpectedResponseError(
        f"{source} {_quoted(value, secrets)}{where} is not a job id: {_JOB_ID_RULE}"
    )


def _quoted(value: Any, secrets: Iterable[str], limit: int = 60) -> str:
    """A value a server sent, as an error message may show it: redacted, its control
    characters escaped, cut short."""
    if not isinstance(value, str):
        return "null" if value is None else f"of type {type(value).__name__}"
    text = escape_controls(redact(value, secrets))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'"


class JobStatus(StrEnum):
    """The statuses the contract names. A server may send others: see ``Job.status``."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


TERMINAL = frozenset({JobStatus.COMPLETED.value, JobStatus.FAILED.value})
#: How a job ended locally when the server can no longer tell: its URL expired before
#: its video was saved, or the server no longer knows it (the journal's statuses).
EXPIRED = "expired"
LOST = "lost"


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
    when it does). Times are Unix seconds. ``id`` is always a job id (:data:`JOB_ID`):
    a snapshot with any other id, from a server or read back from the journal, cannot
    be made (:class:`UnexpectedResponseError`), so an id is safe in a file name or URL.

    ``video_url`` is left out of ``repr()``: a pre-signed URL lets whoever holds it fetch
    the video, and a repr ends up in logs, tracebacks and shared notebooks.
    """

    id: str
    status: str
    created: float | None = None
    model: str | None = None
    completed_at: float | None = None
    video_url: str | None = field(default=None, repr=False)
    duration_seconds: float | None = None
    expires_at: float | None = None
    progress: float | None = None
    error: JobError | None = None
    params: VideoParams | None = None

    def __post_init__(self) -> None:
        check_job_id(self.id)

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
    def from_payload(
        cls,
        payload: Any,
        *,
        params: VideoParams | None = None,
        secrets: Iterable[str] = (),
    ) -> Job:
        """Read a job object from a decoded JSON body, ignoring fields it does not know.

        The body is untrusted: its id must be a job id (:func:`check_job_id`), and every
        text in it (status, model, URL, error, echoed prompt) is redacted of ``secrets``
        (the request's credentials) and of every key this process used.

        Raises :class:`UnexpectedResponseError` when the body has no usable id or status.
        """
        if not isinstance(payload, Mapping):
            raise UnexpectedResponseError(f"expected a job object, got {type(payload).__name__}")
        secrets = tuple(secrets)

        def text(value: Any) -> str | None:
            return redact(value, secrets) if isinstance(value, str) and value else None

        job_id = payload.get("id")
        status = payload.get("status")
        if job_id is None or job_id == "":
            raise UnexpectedResponseError("the job object has no 'id'")
        job_id = check_job_id(job_id, source="the server's job id", field="id", secrets=secrets)
        if not isinstance(status, str) or not status:
            raise UnexpectedResponseError(f"job {job_id} has no 'status'")
        error = payload.get("error")
        job_error = None
        if isinstance(error, Mapping):
            job_error = JobError(
                type=text(str(error.get("type") or "")) or "error",
                message=text(str(error.get("message") or "")) or "",
            )
        elif isinstance(error, str):
            job_error = JobError(type="error", message=text(error) or "")
        return cls(
            id=job_id,
            status=redact(status, secrets),
            created=_number(payload.get("created")),
            model=text(payload.get("model")),
            completed_at=_number(payload.get("completed_at")),
            video_url=text(payload.get("video_url")),
            duration_seconds=_number(payload.get("duration_seconds")),
            expires_at=_number(payload.get("expires_at")),
            progress=_fraction(payload.get("progress")),
            error=job_error,
            params=params if params is not None else _echoed_params(payload, secrets),
        )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _fraction(value: Any) -> float | None:
    number = _number(value)
    return None if number is None else min(1.0, max(0.0, number))


def _echoed_params(payload: Mapping[str, Any], secrets: tuple[str, ...]) -> VideoParams | None:
    """The parameters a server echoed in a job object, when they are all there and valid
    (the prompt redacted)."""
    if not isinstance(payload.get("prompt"), str):
        return None
    fields = {name: payload[name] for name in PARAMETERS if payload.get(name) is not None}
    if len(fields) < len(PARAMETERS):
        return None
    try:
        return VideoParams.create(redact(payload["prompt"], secrets), **fields)
    except ValueError:
        return None
