"""The errors eco_widget raises.

::

    EcoVideoError
    ├── InvalidParameterError (also a ValueError)  bad input, caught before any request
    ├── APIError (.status_code .type .message .param .request_id)
    │   ├── InvalidRequestError (400, 413)
    │   ├── AuthenticationError (401)
    │   │   └── MissingAPIKeyError (no key configured: raised before any request)
    │   ├── PermissionDeniedError (403)
    │   │   └── VideoExpiredError (403/410 on a video URL past its lifetime)
    │   ├── NotFoundError (404)
    │   ├── RateLimitError (429, .retry_after)
    │   └── ServerError (5xx)
    ├── APIConnectionError (the server could not be reached; wraps httpx's error)
    ├── UnexpectedResponseError (a reply that is not what the contract promises)
    ├── JobFailedError (.job)
    ├── JobTimeoutError (.job: the last snapshot; the job can be resumed by id)
    └── JournalError (the local job journal is damaged or from a newer version)

No message ever contains the API key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import Job

__all__ = [
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "EcoVideoError",
    "InvalidParameterError",
    "InvalidRequestError",
    "JobFailedError",
    "JobTimeoutError",
    "JournalError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "UnexpectedResponseError",
    "VideoExpiredError",
]


class EcoVideoError(Exception):
    """Base class of every error raised by eco_widget."""


class InvalidParameterError(EcoVideoError, ValueError):
    """A parameter is missing, of the wrong type or out of range.

    Raised before any request is sent. ``param`` names the parameter, ``value`` is what
    was given and ``accepted`` says what would have been accepted.
    """

    def __init__(self, param: str, value: Any, accepted: str, message: str | None = None):
        self.param = param
        self.value = value
        self.accepted = accepted
        if message is None:
            message = f"{param} must be {accepted}; got {_short_repr(value)}."
        self.message = message
        super().__init__(message)


class APIError(EcoVideoError):
    """The API answered with an error.

    Attributes mirror the contract's error body ``{"error": {"type", "message",
    "param"}}``, plus the HTTP status and the server's request id when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        type: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
    ):
        self.message = message
        self.status_code = status_code
        self.type = type
        self.param = param
        self.request_id = request_id
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"{self.status_code} " if self.status_code is not None else ""
        text = f"{head}{self.message}"
        if self.param:
            text += f" (param: {self.param})"
        return text


class InvalidRequestError(APIError):
    """400 or 413: the server refused the request's content."""


class AuthenticationError(APIError):
    """401: the API key is missing or unknown (also raised before any request when no
    key is configured for a real server)."""


class MissingAPIKeyError(AuthenticationError):
    """No API key is configured for a real server; raised before any request."""


class PermissionDeniedError(APIError):
    """403: the request is not allowed."""


class VideoExpiredError(PermissionDeniedError):
    """The job's video URL is past its lifetime (24 h after completion by default)."""


class NotFoundError(APIError):
    """404: no such job for this API key."""


class RateLimitError(APIError):
    """429: the account already has the maximum number of jobs in flight.

    ``retry_after`` is the server's ``Retry-After`` in seconds, when it sent one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ServerError(APIError):
    """5xx: a transient failure on the server's side."""


class APIConnectionError(EcoVideoError):
    """The server could not be reached, or the connection broke.

    ``may_have_reached_server`` tells whether the request could have been received:
    when it is true for a submit, the job may exist (list your jobs before submitting
    again).
    """

    def __init__(self, message: str, *, may_have_reached_server: bool = True):
        self.message = message
        self.may_have_reached_server = may_have_reached_server
        super().__init__(message)


class UnexpectedResponseError(EcoVideoError):
    """The server answered with something the contract does not allow."""


class JobFailedError(EcoVideoError):
    """The job ended with status ``failed``; ``job.error`` says why."""

    def __init__(self, job: Job):
        self.job = job
        reason = job.error.message if job.error else "no reason given"
        super().__init__(f"job {job.id} failed: {reason}")


class JobTimeoutError(EcoVideoError):
    """The wait's deadline passed before the job finished.

    ``job`` is the last snapshot seen. The job itself goes on: wait for it again with
    ``client.wait(job.id)``.
    """

    def __init__(self, job: Job, timeout: float):
        self.job = job
        self.timeout = timeout
        super().__init__(
            f"job {job.id} is still {job.status} after {timeout:g} s; it goes on on the "
            f"server: resume with client.wait({job.id!r})"
        )


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class JournalError(EcoVideoError):
    """The local job journal cannot be used: damaged, or written by a newer eco_widget.
    The file is left exactly as it is (``.path``)."""

    def __init__(self, message: str, *, path: object = None):
        super().__init__(message)
        self.path = path
