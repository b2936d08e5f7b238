"""The HTTP side of the contract, without I/O: the steps flows yield, the requests they
build and how responses become jobs or errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit

import httpx

from ._exceptions import (
    APIError,
    AuthenticationError,
    InvalidParameterError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
    VideoExpiredError,
)
from ._models import EXPIRED, LOST, Job
from ._params import VideoParams
from ._untrusted import redact, remember_secret, request_secrets, without_userinfo
from ._version import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from ._slots import SlotLimiter, SlotWait

__all__ = [
    "EXPIRED",
    "LOST",
    "Acquire",
    "Blocking",
    "CheckTarget",
    "CloseSink",
    "EarlierJob",
    "Endpoint",
    "Lookup",
    "Notify",
    "OpenSink",
    "Record",
    "Reserve",
    "ResetSink",
    "Send",
    "Sink",
    "Sleep",
    "Step",
    "Stream",
    "Unreserve",
    "error_from_response",
    "job_from_response",
]

logger = logging.getLogger("eco_widget")

SUBMIT_PATH = "/v1/video/generations"

#: What ``Client`` calls with each new job snapshot, and with each wait for a slot:
#: plain functions (a coroutine function is refused before anything is sent).
UpdateCallback = Callable[[Job], None]
WaitCallback = Callable[["SlotWait"], None]
#: What ``AsyncClient`` calls: plain functions or coroutine functions (awaited).
AsyncUpdateCallback = Callable[[Job], Awaitable[None] | None]
AsyncWaitCallback = Callable[["SlotWait"], Awaitable[None] | None]



# -- what the flows see of the shells' objects ------------------------------------------------
class Sink(Protocol):
    """Where a video's body goes (bytes in memory, or a file written atomically). The
    flows read its state; every call that touches a disk is a step the shell performs
    (:class:`OpenSink`, :class:`Stream`, :class:`ResetSink`, :class:`CloseSink`)."""

    @property
    def size(self) -> int: ...
    @property
    def accepted(self) -> bool: ...
    def accept(self, response: httpx.Response) -> bool: ...
    def write(self, chunk: bytes) -> None: ...
    def reset(self) -> None: ...
    def is_complete(self) -> bool: ...
    def discard(self) -> None: ...
    def finish(self) -> bytes | Path: ...


class EarlierJob(Protocol):
    """What the journal remembers of a job (a ``JournalEntry``), as the flows read it."""

    @property
    def job_id(self) -> str: ...
    @property
    def job(self) -> Job: ...
    @property
    def params(self) -> VideoParams | None: ...
    @property
    def seed(self) -> int | None: ...
    @property
    def saved_path(self) -> str | None: ...
    @property
    def is_saved(self) -> bool: ...
    @property
    def is_finished(self) -> bool: ...
    @property
    def is_unknown(self) -> bool: ...
    def is_expired(self, now: float | None = None) -> bool: ...


# -- the steps a flow yields to its shell --------------------------------------------------
@dataclass(frozen=True)
class Send:
    """Send ``request``; the shell sends back the :class:`httpx.Response` (body read) or
    throws the :class:`httpx.RequestError` it raised into the flow."""

    request: httpx.Request


@dataclass(frozen=True)
class Stream:
    """Send ``request`` and, when ``sink.accept(response)`` says so, stream the body into
    ``sink``; otherwise read the body. The shell sends back the closed response."""

    request: httpx.Request
    sink: Sink


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` (the sync shell with ``time.sleep``, the async one with
    ``asyncio.sleep``)."""

    seconds: float


@dataclass(frozen=True)
class Notify:
    """Call ``callback(value)`` — a :class:`Job` snapshot, or a :class:`SlotWait` —
    awaiting it in the async shell when it returns an awaitable."""

    callback: Callable[[Any], Awaitable[None] | None]
    value: Any


@dataclass(frozen=True)
class Reserve:
    """Write the journal's row of a submission *before* its request is sent: the
    parameters and seed, status ``submitting``. The shell sends back the row's
    reservation (``None`` without a journal). This write must succeed: when it fails
    the error is thrown into the flow and nothing is sent."""

    params: VideoParams
    batch: tuple[str, int] | None = None


@dataclass(frozen=True)
class Unreserve:
    """A submission got no job: ``unknown`` is ``None`` when the server surely created
    nothing (the row goes), else why its outcome is unknown (the reply was lost: the
    row stays ``submitting``, "may have been billed", with this message)."""

    reservation: str | None
    unknown: str | None = None


@dataclass(frozen=True)
class Record:
    """Write to the job journal, when the shell keeps one: the ``job`` snapshot (on
    submission with its ``batch`` key and index, completing the row of its
    ``reservation``), where its video was ``saved``, or an ``outcome`` that ends it
    locally (``("expired" | "lost", message)``). Best effort: a write that fails is
    logged and tried again with the next one; it never ends a wait."""

    job: Job
    batch: tuple[str, int] | None = None
    saved: Path | None = None
    outcome: tuple[str, str] | None = None
    reservation: str | None = None


@dataclass(frozen=True)
class Blocking:
    """Call ``function()`` — file-system work: make a sink, fsync and rename it, read a
    saved file — and send back its result. The async shell calls it in a worker thread,
    so the event loop never waits on a disk."""

    function: Callable[[], Any]


@dataclass(frozen=True)
class CheckTarget:
    """Before a submission: check that the video of a job with ``params`` can be saved
    at ``target`` (what the caller gave: a path, a folder, a template, or ``None`` for
    the shell's default place), creating nothing. The shell raises
    :class:`OutputPathError` into the flow when it cannot."""

    target: Any
    params: VideoParams


@dataclass(frozen=True)
class OpenSink:
    """Make the sink ``job``'s video streams into, for ``target`` (as in
    :class:`CheckTarget`); the shell sends back the :class:`Sink` (a folder or a
    temporary file may be made: in a worker thread in the async shell)."""

    job: Job
    target: Any


@dataclass(frozen=True)
class ResetSink:
    """Throw away what ``sink`` holds, to take the body again from its start."""

    sink: Sink


@dataclass(frozen=True)
class CloseSink:
    """``keep``: finish ``sink`` (a file is flushed, fsynced and renamed into place) and
    send back the video (bytes, or the file's path); else discard it, leaving nothing
    partial behind."""

    sink: Sink
    keep: bool


@dataclass(frozen=True)
class Lookup:
    """Ask the journal about ``job_id``; the shell sends back its entry (an
    :class:`EarlierJob`) or ``None`` (always ``None`` without a journal)."""

    job_id: str


@dataclass(frozen=True)
class Acquire:
    """Wait for one of the account's job slots; the shell sends back the held ``Slot``.
    After ``timeout`` seconds (``None``: no limit) it raises :class:`SlotTimeoutError`
    into the flow instead."""

    limiter: SlotLimiter
    timeout: float | None = None


Step = (
    Send
    | Stream
    | Sleep
    | Notify
    | Reserve
    | Unreserve
    | Record
    | Lookup
    | Acquire
    | Blocking
    | CheckTarget
    | OpenSink
    | ResetSink
    | CloseSink
)


# -- requests -------------------------------------------------------------------------------
class Endpoint:
    """Builds the requests of one API (a base URL and its key).

    The key is only ever put in the ``Authorization`` header of requests to the API's
    own origin; video URLs are pre-signed and get no key. The key is remembered as a
    secret (:func:`._untrusted.remember_secret`): no text a server sends shows it. A
    ``user:password@`` in the base URL is dropped (never sent, never shown).
    """

    def __init__(self, base_url: str, api_key: str | None):
        self.base_url = without_userinfo(base_url).rstrip("/")
        self._api_key = api_key
        remember_secret(api_key)
        self._user_agent = f"eco_widget/{__version__} httpx/{httpx.__version__}"

    def __repr__(self) -> str:
        return f"Endpoint(base_url={self.base_url!r})"

    def _headers(self, *, auth: bool) -> dict[str, str]:
        headers = {"User-Agent": self._user_agent, "Accept": "application/json"}
        if auth and self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def submit(self, params: VideoParams) -> httpx.Request:
        return httpx.Request(
            "POST",
            self.base_url + SUBMIT_PATH,
            headers=self._headers(auth=True),
            json=params.to_body(),
        )

    def job(self, job_id: str) -> httpx.Request:
        return httpx.Request("GET", self.job_url(job_id), headers=self._headers(auth=True))

    def job_url(self, job_id: str) -> str:
        """The job's URL; the id (a caller's) is quoted as one path segment, so no id can
        reach another path (``vid/../x`` is ``vid%2F..%2Fx``)."""
        if not isinstance(job_id, str) or not job_id.strip():
            raise InvalidParameterError("job_id", job_id, "a job id such as 'vid_abc123'")
        return f"{self.base_url}{SUBMIT_PATH}/{quote(job_id.strip(), safe='')}"

    def video(self, url: str, *, start: int = 0) -> httpx.Request:
        headers = self._headers(auth=False)
        headers["Accept"] = "video/mp4, */*"
        if start > 0:
            headers["Range"] = f"bytes={start}-"
        return httpx.Request("GET", url, headers=headers)


# -- responses ------------------------------------------------------------------------------
# Everything a reply holds is untrusted: every text taken from it is redacted of the
# request's credentials and of every key this process used (``_secrets``, ``_text``)
# before it goes into a job or an error; job ids are checked (``Job.from_payload``).
_EXCERPT = 200


def _secrets(response: httpx.Response) -> tuple[str, ...]:
    """The credentials of the request ``response`` answers (none when it has none)."""
    try:
        request = response.request
    except RuntimeError:
        return ()
    return request_secrets(request)


def _text(value: Any, secrets: tuple[str, ...]) -> str | None:
    """A text field of a reply, redacted; ``None`` when it is not a non-empty string."""
    return redact(value, secrets) if isinstance(value, str) and value else None


def _excerpt(response: httpx.Response) -> str | None:
    """The start of a body that is not a JSON error (a proxy's page, a traceback), on one
    line, as an error message may quote it; ``None`` for an empty or binary body."""
    content = response.content[: _EXCERPT * 4]
    if not content or b"\x00" in content:
        return None
    text = " ".join(content.decode("utf-8", errors="replace").split())
    if not text:
        return None
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


def _error_body(response: httpx.Response) -> dict[str, Any]:
    """The error object of an error reply: ``message``, ``param``, ``type`` (strings,
    redacted; absent when the server did not send them). A body that is not JSON is
    quoted (its start) as ``body``."""
    secrets = _secrets(response)
    try:
        payload = json.loads(response.content) if response.content else None
    except (ValueError, UnicodeDecodeError):
        excerpt = _excerpt(response)
        return {"body": redact(excerpt, secrets)} if excerpt else {}
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, str):
        error = {"message": error}
    if not isinstance(error, dict):
        return {}
    fields = {name: _text(error.get(name), secrets) for name in ("message", "param", "type")}
    return {name: value for name, value in fields.items() if value is not None}


def retry_after_seconds(response: httpx.Response, *, now: float) -> float | None:
    from ._retry import parse_retry_after

    return parse_retry_after(response.headers.get("retry-after"), now=now)


_ERRORS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    410: VideoExpiredError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def error_from_response(response: httpx.Response, *, now: float) -> APIError:
    """The :class:`APIError` for an error response (its body must have been read).

    Every text from the reply (message, param, type, reason phrase, request id, a quoted
    body) is redacted of the request's credentials and every key this process used."""
    status = response.status_code
    secrets = _secrets(response)
    body = _error_body(response)
    message = body.get("message")
    if message is None:
        reason = _text(response.reason_phrase, secrets) or ""
        message = f"HTTP {status} {reason}".strip()
        if body.get("body"):
            message += f": {body['body']}"
    param = body.get("param")
    kind = body.get("type")
    request_id = _text(response.headers.get("x-request-id"), secrets)
    cls = _ERRORS.get(status) or (ServerError if status >= 500 else APIError)
    if cls is RateLimitError:
        return RateLimitError(
            message,
            retry_after=retry_after_seconds(response, now=now),
            status_code=status,
            type=kind,
            param=param,
            request_id=request_id,
        )
    return cls(message, status_code=status, type=kind, param=param, request_id=request_id)


def job_from_response(response: httpx.Response, *, params: VideoParams | None = None) -> Job:
    """Read the job object of a successful response: its id checked, its texts redacted
    (:meth:`Job.from_payload`); :class:`UnexpectedResponseError` otherwise."""
    secrets = _secrets(response)
    try:
        payload = response.json()
    except (ValueError, UnicodeDecodeError) as exc:
        kind = _text(response.headers.get("content-type"), secrets) or "no content type"
        raise UnexpectedResponseError(
            f"expected a JSON job object from {_where(response)}, got {kind[:80]}"
        ) from exc
    return Job.from_payload(payload, params=params, secrets=secrets)


def _where(response: httpx.Response) -> str:
    url = urlsplit(str(response.request.url))
    return f"{response.request.method} {url.path}"


def log_response(response: httpx.Response) -> None:
    """One debug line per response: method, path (never the query: it may be signed) and
    status. Headers are never logged."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s -> %s", _where(response), response.status_code)
