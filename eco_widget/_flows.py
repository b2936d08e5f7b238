"""The client's decisions, as generators that yield steps and get replies.

Each flow yields :mod:`._protocol` steps (send this request, stream that body, sleep
this long, tell the caller) and receives the shell's reply: the response, or the
transport error thrown back into it. ``Client`` drives them with blocking calls and
``AsyncClient`` with awaits; the retry, polling and download logic lives here once.
Tests drive them by hand with a fake clock.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from ._exceptions import (
    APIConnectionError,
    APIError,
    InvalidParameterError,
    JobFailedError,
    JobTimeoutError,
    OutputPathError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
    VideoExpiredError,
    VideoNotSavedError,
)
from ._models import Job
from ._params import VideoParams
from ._polling import PollSchedule, TimingModel
from ._protocol import (
    EXPIRED,
    AsyncUpdateCallback,
    AsyncWaitCallback,
    CloseSink,
    Endpoint,
    Notify,
    OpenSink,
    Record,
    Reserve,
    ResetSink,
    Send,
    Sink,
    Sleep,
    Step,
    Stream,
    Unreserve,
    error_from_response,
    job_from_response,
    log_response,
    retry_after_seconds,
)
from ._retry import RetryPolicy
from ._slots import SlotWait

__all__ = [
    "Flow",
    "Runtime",
    "download_flow",
    "get_flow",
    "submit_flow",
    "wait_flow",
]

T = TypeVar("T")
Flow = Generator[Step, Any, T]

# Errors that mean the request never left this machine: safe to send again, even a submit.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Errors that no retry can mend.
_HOPELESS = (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects)
# Errors a wait rides out until its deadline.
_TRANSIENT = (APIConnectionError, ServerError, RateLimitError)
#: How long a submission refused with 429 waits when the server gives no Retry-After.
RATE_LIMIT_PAUSE = 5.0


@dataclass
class Runtime:
    """What the flows of one client share: where to send, how to retry, what was learned
    of the server's timings, and the clocks (monotonic for intervals and deadlines,
    wall time for ``Retry-After`` dates and job timestamps)."""

    endpoint: Endpoint
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timing: TimingModel = field(default_factory=TimingModel)
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time


def _connection_error(exc: httpx.RequestError) -> APIConnectionError:
    reached = not isinstance(exc, _NOT_SENT)
    url = exc.request.url.copy_with(query=None) if _has_request(exc) else None
    where = f" to {url}" if url is not None else ""
    detail = str(exc) or type(exc).__name__
    return APIConnectionError(
        f"request{where} failed: {type(exc).__name__}: {detail}",
        may_have_reached_server=reached,
    )


def _has_request(exc: httpx.RequestError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when unset
    except RuntimeError:
        return False
    return True


def _time_left(rt: Runtime, deadline: float | None, delay: float) -> bool:
    return deadline is None or rt.clock() + delay < deadline


def request_flow(
    rt: Runtime,
    build: Callable[[], httpx.Request],
    *,
    idempotent: bool,
    deadline: float | None = None,
) -> Flow[httpx.Response]:
    """Send a request until it succeeds, retrying what the policy allows.

    Reads (``idempotent``) are retried on connection errors and retryable statuses. A
    submit is retried only when the connection could not be opened; once it may have
    reached the server it is never sent again.
    """
    policy = rt.retry
    attempt = 0
    while True:
        attempt += 1
        try:
            response: httpx.Response = yield Send(build())
        except httpx.RequestError as exc:
            sent = not isinstance(exc, _NOT_SENT)
            delay = policy.backoff(attempt)
            if (
                not isinstance(exc, _HOPELESS)
                and (idempotent or not sent)
                and attempt < policy.max_attempts
                and _time_left(rt, deadline, delay)
            ):
                yield Sleep(delay)
                continue
            raise _connection_error(exc) from exc
        log_response(response)
        if response.is_success:
            return response
        if idempotent and policy.should_retry_status(response.status_code):
            retry_after = retry_after_seconds(response, now=rt.wall())
            delay = policy.backoff(attempt, retry_after)
            if attempt < policy.max_attempts and _time_left(rt, deadline, delay):
                yield Sleep(delay)
                continue
        raise error_from_response(response, now=rt.wall())


def submit_flow(
    rt: Runtime,
    params: VideoParams,
    *,
    timeout: float | None = None,
    on_wait: AsyncWaitCallback | None = None,
    batch: tuple[str, int] | None = None,
    on_sending: Callable[[VideoParams], Any] | None = None,
) -> Flow[Job]:
    """Submit a job (drawing a seed first when none is given), journaled from before
    its request is sent to after its reply.

    Each try first writes the journal's row (parameters, seed, ``submitting``); the
    request goes only once that write succeeded. The reply completes the row with the
    job's id. A refusal (4xx) or a request that never left removes the row; a reply
    that was lost (a connection cut after sending, a 5xx, an interrupt) leaves it
    ``submitting``: the job may have been created and billed, its id is unknown.
    ``on_sending(params)`` is told just before each request.

    A 429 means the server refused the job (the account's other jobs fill its slots):
    nothing was created or billed, so the submission waits per ``Retry-After`` and tries
    again, for at most ``timeout`` seconds (``None``: no waiting, the 429 is raised).
    """
    params = params.with_seed()
    deadline = None if timeout is None else rt.clock() + timeout
    while True:
        reservation = yield Reserve(params, batch)
        if on_sending is not None:
            yield Notify(on_sending, params)
        try:
            response = yield from request_flow(
                rt, lambda: rt.endpoint.submit(params), idempotent=False
            )
            job = job_from_response(response, params=params)
        except RateLimitError as exc:
            yield Unreserve(reservation)
            pause = exc.retry_after or RATE_LIMIT_PAUSE
            if deadline is None or rt.clock() + pause >= deadline:
                raise
            if on_wait is not None:
                yield Notify(on_wait, SlotWait("server", active=0, retry_after=pause))
            yield Sleep(pause)
            continue
        except (APIError, APIConnectionError, UnexpectedResponseError) as exc:
            yield Unreserve(reservation, submission_unknown(exc))
            raise
        # Anything else (an interrupt while the request was out) leaves the row as it
        # is: "submitting", the outcome unknown.
        yield Record(job, batch=batch, reservation=reservation)
        return job


def submission_unknown(exc: BaseException) -> str | None:
    """Why a failed submission may still have created a job (``None``: it surely did
    not): the request reached the server but its reply was lost or unreadable."""
    if isinstance(exc, APIConnectionError):
        reached = exc.may_have_reached_server
    elif isinstance(exc, APIError):
        reached = exc.status_code is None or exc.status_code >= 500
    else:
        reached = True
    if not reached:
        return None
    return f"the reply to the submission was lost ({exc}): the job may have been created"


def _read_job(
    rt: Runtime, job_id: str, params: VideoParams | None, deadline: float | None = None
) -> Flow[tuple[Job, float | None]]:
    response = yield from request_flow(
        rt, lambda: rt.endpoint.job(job_id), idempotent=True, deadline=deadline
    )
    job = job_from_response(response, params=params)
    return job, retry_after_seconds(response, now=rt.wall())


def get_flow(rt: Runtime, job_id: str, params: VideoParams | None = None) -> Flow[Job]:
    """Read one snapshot of a job."""
    job, _ = yield from _read_job(rt, job_id, params)
    return job


def wait_flow(
    rt: Runtime,
    job: Job,
    *,
    timeout: float,
    on_update: AsyncUpdateCallback | None = None,
) -> Flow[Job]:
    """Poll until the job is completed or failed, or the deadline passes.

    Transient failures (connection errors, 5xx and 429 after their retries) do not end
    the wait; it rides them out until the deadline, then raises
    :class:`JobTimeoutError` with the last snapshot, chained to the last failure.
    """
    if not timeout > 0:
        raise InvalidParameterError("timeout", timeout, "a positive number of seconds")
    start = rt.clock()
    deadline = start + timeout
    submitted = start
    if job.created is not None:
        submitted = start - max(0.0, rt.wall() - job.created)
    schedule = PollSchedule(rt.timing, started=submitted, params=job.params)
    schedule.observe(job, start)
    last, floor, failure, recorded = job, 0.0, None, job.status
    while not last.is_terminal:
        now = rt.clock()
        if now >= deadline:
            raise JobTimeoutError(last, timeout) from failure
        delay = max(schedule.next_delay(now), floor)
        yield Sleep(min(delay, deadline - now))
        try:
            snapshot, floor_after = yield from _read_job(rt, last.id, last.params, deadline)
        except _TRANSIENT as exc:
            failure, floor = exc, getattr(exc, "retry_after", None) or 0.0
            continue
        failure, floor = None, floor_after or 0.0
        snapshot = snapshot.with_params(last.params)
        schedule.observe(snapshot, rt.clock())
        if snapshot != last:
            last = snapshot
            if last.status != recorded:
                recorded = last.status
                yield Record(last)
            if on_update is not None:
                yield Notify(on_update, last)
    return last


def download_flow(rt: Runtime, job: Job, target: Any) -> Flow[tuple[Job, bytes | Path]]:
    """Fetch a completed job's video into the sink the shell opens for ``target`` and
    finish it (bytes, or the path it was renamed to, which is journaled); on any failure
    the sink is discarded and nothing partial remains.

    A body cut short goes on from where it stopped (``Range``). A URL refused as
    expired (403/410) is refreshed once from the job; if the server has no newer URL the
    video is gone: :class:`VideoExpiredError`, journaled as ``expired`` so that it is
    reported, not tried again. Returns the job (refreshed or not) too.
    """
    _check_downloadable(job)
    sink: Sink | None = None
    try:
        sink = yield OpenSink(job, target)
        assert sink is not None
        job = yield from _fetch_video(rt, job, sink)
        result: bytes | Path = yield CloseSink(sink, keep=True)
    except VideoExpiredError as exc:
        yield from _discard(sink)
        yield Record(job, outcome=(EXPIRED, str(exc)))
        raise
    except InterruptedError:  # an OSError too, but the user's Ctrl-C, not the disk
        yield from _discard(sink)
        raise
    except (OSError, OutputPathError) as exc:
        yield from _discard(sink)
        raise not_saved(job, sink, exc) from exc
    except UnexpectedResponseError as exc:  # too large, not an MP4: say whose
        yield from _discard(sink)
        exc.args = (f"the video of job {job.id}: {exc}",)
        raise
    except GeneratorExit:  # the flow is being closed: no step can run any more
        raise
    except BaseException:
        yield from _discard(sink)
        raise
    if isinstance(result, Path):
        yield Record(job, saved=result)
    return job, result


def _discard(sink: Sink | None) -> Flow[None]:
    """Discard ``sink`` (a step), after a failure that stays the one raised."""
    if sink is None:
        return
    with contextlib.suppress(Exception):  # the original failure is what must be seen
        yield CloseSink(sink, keep=False)


def not_saved(job: Job, sink: Sink | None, error: BaseException) -> VideoNotSavedError:
    """The error of a video that exists (and was billed) but could not be saved: it
    names the job, where the video was going, and how to fetch it again."""
    where = (
        getattr(sink, "path", None)
        or getattr(error, "path", None)
        or getattr(error, "filename", None)
    )
    into = f" to {where}" if where else ""
    reason = getattr(error, "strerror", None) or str(error)
    return VideoNotSavedError(
        f"job {job.id} is done (and billed) but its video could not be saved{into}: "
        f"{reason}. The job is in the journal: fetch its video again with "
        f"`ecovideo download {job.id}` (or Client().result({job.id!r})) while its URL "
        "lasts (24 hours after completion on the Ecohash service)",
        job_id=job.id,
        path=where,
    )


def _check_downloadable(job: Job) -> None:
    if job.is_failed:
        raise JobFailedError(job)
    if not job.is_completed or not job.video_url:
        raise InvalidParameterError(
            "job",
            job.id,
            "a completed job",
            f"job {job.id} is {job.status}: wait for it to complete before downloading",
        )


def _fetch_video(rt: Runtime, job: Job, sink: Sink) -> Flow[Job]:
    policy = rt.retry
    url, attempt, refreshed = job.video_url, 0, False
    assert url is not None  # checked by _check_downloadable
    while True:
        attempt += 1
        try:
            response = yield Stream(rt.endpoint.video(url, start=sink.size), sink)
        except httpx.RequestError as exc:
            if not isinstance(exc, _HOPELESS) and attempt < policy.max_attempts:
                yield Sleep(policy.backoff(attempt))
                continue
            raise _connection_error(exc) from exc
        log_response(response)
        status = response.status_code
        if status in (200, 206):
            if sink.accepted and sink.is_complete():
                return job
            if not sink.accepted:
                yield ResetSink(sink)  # a range that does not go on from our bytes
        elif status in (403, 410):
            if refreshed:
                raise expired_error(job, error_from_response(response, now=rt.wall()))
            refreshed = True
            fresh = yield from get_flow(rt, job.id, job.params)
            if not fresh.video_url or fresh.video_url == url:
                raise expired_error(job, error_from_response(response, now=rt.wall()))
            job, url, attempt = fresh, fresh.video_url, 0
            continue
        elif status == 416:
            yield ResetSink(sink)
        elif not policy.should_retry_status(status):
            raise error_from_response(response, now=rt.wall())
        if attempt >= policy.max_attempts:
            if status in (200, 206):
                raise APIConnectionError(
                    f"the video of job {job.id} arrived incomplete {attempt} times"
                )
            raise error_from_response(response, now=rt.wall())
        yield Sleep(policy.backoff(attempt, retry_after_seconds(response, now=rt.wall())))


def expired_error(job: Job, error: APIError | None) -> VideoExpiredError:
    when = ""
    if job.expires_at is not None:
        when = " at " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(job.expires_at))
    why = f" ({error.message})" if error is not None else ""
    return VideoExpiredError(
        f"the video URL of job {job.id} has expired{when}{why} before the video was saved; "
        "a video URL lasts a limited time after completion (24 hours on the Ecohash "
        "service) and the video cannot be fetched any more",
        status_code=error.status_code if error is not None else 410,
        type=error.type if error is not None else "video_expired",
        request_id=error.request_id if error is not None else None,
    )
