"""A job's whole life, composed of the basic flows of :mod:`._flows`: take one of the
account's slots, submit, wait, download (``generate_flow``); or pick up a job submitted
earlier, from the journal's saved file, by waiting for it, or by reporting that its URL
expired (``fetch_flow``). No I/O, like every flow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._exceptions import InvalidParameterError, JobFailedError, JobTimeoutError, NotFoundError
from ._flows import Flow, Runtime, download_flow, expired_error, get_flow, submit_flow, wait_flow
from ._models import Job
from ._params import VideoParams
from ._protocol import (
    EXPIRED,
    LOST,
    Acquire,
    AsyncUpdateCallback,
    AsyncWaitCallback,
    Blocking,
    CheckTarget,
    EarlierJob,
    Lookup,
    Notify,
    Record,
)
from ._slots import Slot, SlotLimiter, SlotWait

__all__ = ["fetch_flow", "generate_flow", "slot_flow"]


def slot_flow(
    limiter: SlotLimiter | None, on_wait: AsyncWaitCallback | None, timeout: float | None = None
) -> Flow[Slot | None]:
    """Hold one of the account's slots (``None`` without a limiter), telling ``on_wait``
    when it has to wait; for at most ``timeout`` seconds (:class:`SlotTimeoutError`)."""
    if limiter is None:
        return None
    slot = limiter.try_acquire()
    if slot is None:
        if on_wait is not None:
            yield Notify(on_wait, SlotWait("local", active=limiter.active, limit=limiter.size))
        slot = yield Acquire(limiter, timeout)
    return slot


def generate_flow(
    rt: Runtime,
    params: VideoParams,
    target: Any,
    *,
    timeout: float,
    on_update: AsyncUpdateCallback | None = None,
    on_wait: AsyncWaitCallback | None = None,
    limiter: SlotLimiter | None = None,
    batch: tuple[str, int] | None = None,
    on_sending: Callable[[VideoParams], Any] | None = None,
) -> Flow[tuple[Job, bytes | Path]]:
    """Take a slot, check that the video can be saved at ``target`` (before anything is
    sent), submit, wait and download it there (:class:`OpenSink`); raises
    :class:`JobFailedError` when the job fails. Returns the completed job and the video
    (bytes, or its path).

    ``timeout`` bounds the whole wait: for one of this process's slots
    (:class:`SlotTimeoutError`), for the server's (429: :class:`RateLimitError`), and for
    the job (:class:`JobTimeoutError`, the job goes on); the download after it is not
    cut short."""
    params = params.with_seed()
    deadline = rt.clock() + timeout
    slot = yield from slot_flow(limiter, on_wait, timeout)  # slots go in the order asked
    try:
        yield CheckTarget(target, params)
        job = yield from submit_flow(
            rt,
            params,
            timeout=max(0.0, deadline - rt.clock()),
            on_wait=on_wait,
            batch=batch,
            on_sending=on_sending,
        )
        if on_update is not None:
            yield Notify(on_update, job)
        left = deadline - rt.clock()
        if left <= 0:
            raise JobTimeoutError(job, timeout)
        try:
            job = yield from wait_flow(rt, job, timeout=left, on_update=on_update)
        except JobTimeoutError as exc:  # told as the whole call's timeout
            raise JobTimeoutError(exc.job, timeout) from exc.__cause__
    finally:
        if slot is not None:
            slot.release()
    if job.is_failed:
        raise JobFailedError(job)
    return (yield from download_flow(rt, job, target))


def fetch_flow(
    rt: Runtime,
    job: Job | str,
    target: Any,
    *,
    wait: bool,
    timeout: float = 900.0,
    on_update: AsyncUpdateCallback | None = None,
    limiter: SlotLimiter | None = None,
) -> Flow[tuple[Job, bytes | Path]]:
    """The video of a job submitted earlier (a :class:`Job` or an id).

    A video the journal has saved (and whose file is whole) is returned from disk, with
    no request. Otherwise the job is read; ``wait`` waits for it when it still runs
    (holding a slot), else a job that is not completed is refused; then it is
    downloaded. A job past its URL's lifetime is reported at once
    (:class:`VideoExpiredError`), one the server no longer knows is journaled as lost.
    """
    job_id = job.id if isinstance(job, Job) else job
    if not isinstance(job_id, str) or not job_id.strip():
        raise InvalidParameterError("job_id", job_id, "a job id such as 'vid_abc123'")
    entry: EarlierJob | None = yield Lookup(job_id)
    params = job.params if isinstance(job, Job) else None
    if entry is not None:
        params = params or entry.params
        if entry.is_unknown:
            raise InvalidParameterError(
                "job_id",
                job_id,
                "the id of a job the server created",
                f"{job_id} is the journal's mark of a submission whose reply was lost: the "
                "job may have been created, but its id is unknown (see eco_widget.jobs())",
            )
        saved: bool = yield Blocking(lambda: entry.is_saved)  # a stat of the file
        if saved:
            assert entry.saved_path is not None
            return entry.job.with_params(params), Path(entry.saved_path)
        if entry.is_expired(rt.wall()):
            error = expired_error(entry.job, None)
            yield Record(entry.job, outcome=(EXPIRED, str(error)))
            raise error
    try:
        job = yield from get_flow(rt, job_id, params)
    except NotFoundError as exc:
        if entry is not None:
            yield Record(entry.job, outcome=(LOST, exc.message))
        raise
    job = job.with_params(params)
    yield Record(job)
    if on_update is not None:
        yield Notify(on_update, job)
    if wait and not job.is_terminal:
        slot = yield from slot_flow(limiter, None)
        try:
            job = yield from wait_flow(rt, job, timeout=timeout, on_update=on_update)
        finally:
            if slot is not None:
                slot.release()
    if job.is_failed:
        yield Record(job)
        raise JobFailedError(job)
    return (yield from download_flow(rt, job, target))
