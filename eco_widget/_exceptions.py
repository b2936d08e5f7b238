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
    │   └── VideoTooLargeError (.size .limit: a video body over max_video_bytes)
    ├── JobFailedError (.job)
    ├── JobTimeoutError (.job: the last snapshot; the job can be resumed by id)
    ├── SlotTimeoutError (no free slot within the timeout: nothing was submitted)
    ├── JournalError (the local job journal is damaged or from a newer version)
    ├── OutputPathError (.path: where a video would go cannot be written; raised
    │                    before the job is submitted)
    └── VideoNotSavedError (.job_id .path: the job exists, its video could not be saved)

Every error survives ``pickle`` (a ``multiprocessing`` worker's error reaches its parent)
and ``copy`` with its message and all its attributes.

No message ever contains the API key: every text a server sent is redacted where its
reply is read (:mod:`._protocol`), and :class:`EcoVideoError` redacts each message (and
:class:`APIError` each field) again, of every key this process has used
(:func:`._untrusted.redact`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._untrusted import redact

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
    "OutputPathError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "SlotTimeoutError",
    "UnexpectedResponseError",
    "VideoExpiredError",
    "VideoNotSavedError",
    "VideoTooLargeError",
]


class EcoVideoError(Exception):
    """Base class of every error raised by eco_widget. Its message never holds an API
    key this process has used: text arguments are redacted."""

    def __init__(self, *args: Any):
        super().__init__(*(redact(arg) if isinstance(arg, str) else arg for arg in args))

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own reduce calls ``type(self)(*self.args)``, which fails for every
        # subclass whose constructor takes other arguments than its message (a job, a
        # path...). Rebuild without ``__init__``: ``args`` as they are (already redacted),
        # the attributes from ``__dict__``.
        return _rebuild, (type(self), self.args), self.__dict__


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
        self.message = redact(message)
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
        self.message = redact(message)
        self.status_code = status_code
        self.type = _redacted(type)
        self.param = _redacted(param)
        self.request_id = _redacted(request_id)
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
        self.message = redact(message)
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


def _rebuild(cls: type[EcoVideoError], args: tuple[Any, ...]) -> EcoVideoError:
    """An unpickled error: ``cls`` with ``args``, its ``__init__`` not run (the pickled
    ``__dict__`` is set on it next)."""
    error = cls.__new__(cls, *args)
    error.args = args  # OSError's __new__ (SlotTimeoutError) leaves them to __init__
    return error


def _redacted(text: str | None) -> str | None:
    return redact(text) if isinstance(text, str) else text


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class JournalError(EcoVideoError):
    """The local job journal cannot be used: damaged, or written by a newer eco_widget.
    The file is left exactly as it is (``.path``)."""

    def __init__(self, message: str, *, path: object = None):
        super().__init__(message)
        self.path = path


class VideoTooLargeError(UnexpectedResponseError):
    """A video body larger than the client accepts (``max_video_bytes``): announced by
    ``Content-Length``, or found while streaming. Nothing is kept."""

    def __init__(self, message: str, *, size: int | None, limit: int):
        super().__init__(message)
        self.size = size
        self.limit = limit


class SlotTimeoutError(EcoVideoError, TimeoutError):
    """No free slot for a new job within the call's timeout: nothing was submitted."""


class OutputPathError(EcoVideoError):
    """Where a video would be saved cannot be written (a folder that cannot be made or
    written, a target that is a device, FIFO or socket). Raised before the job is
    submitted: nothing was billed. ``path`` names the place."""

    def __init__(self, message: str, *, path: object):
        super().__init__(message)
        self.path = path


class VideoNotSavedError(EcoVideoError):
    """The job exists (and was billed), but its video could not be saved (a full disk,
    permissions changed meanwhile). ``job_id`` names it; ``path`` is where it was
    going. The job is in the journal: ``ecovideo download ID`` fetches it again."""

    def __init__(self, message: str, *, job_id: str, path: object = None):
        super().__init__(message)
        self.job_id = job_id
        self.path = path
