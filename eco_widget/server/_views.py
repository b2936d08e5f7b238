"""The job object, as the API sends it."""

from __future__ import annotations

import math
from typing import Any

from .._params import MODEL, PARAMETERS
from ._records import JobRecord
from ._signing import UrlSigner

__all__ = ["job_object", "short", "url_expiry"]


def url_expiry(completed_at: float, url_ttl: float) -> int:
    """When a completed job's video URL stops working: at least ``url_ttl`` seconds
    after completion, rounded up to a whole second."""
    return math.ceil(completed_at + url_ttl)


def job_object(
    record: JobRecord,
    *,
    base_url: str,
    signer: UrlSigner,
    url_ttl: float,
    progress: float | None,
) -> dict[str, Any]:
    """The contract's job object: ``id, object, status, created, model``, the echoed
    parameters (seed included), ``progress`` while processing, ``video_url``,
    ``duration_seconds``, ``completed_at`` and ``expires_at`` when completed, ``error``
    when failed. ``base_url`` (the request's) makes ``video_url`` absolute."""
    job: dict[str, Any] = {
        "id": record.id,
        "object": "video.job",
        "status": record.status,
        "created": int(record.created),
        "model": MODEL,
    }
    params = record.params
    if params is not None:
        job["prompt"] = params.prompt
        job.update({name: getattr(params, name) for name in PARAMETERS})
    if record.status == "processing" and progress is not None:
        job["progress"] = progress
    if record.status == "completed" and record.completed_at is not None:
        expires = url_expiry(record.completed_at, url_ttl)
        job["video_url"] = (
            f"{base_url}/v1/videos/{record.id}.mp4?{signer.query(record.id, expires)}"
        )
        if params is not None:
            job["duration_seconds"] = params.duration_seconds
        job["completed_at"] = int(record.completed_at)
        job["expires_at"] = expires
    if record.status == "failed":
        error = record.error or {}
        job["error"] = {
            "type": str(error.get("type") or "generation_error"),
            "message": str(error.get("message") or "The job failed."),
        }
    return job


def short(text: str, limit: int = 80) -> str:
    """``repr`` of a text from a request, cut to ``limit`` characters for a message."""
    value = repr(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"
