"""One generation of a widget: its state as the front end sees it, and the task that
drives it on the kernel's event loop (wait for a slot, submit, poll, download, save), or
follows a job submitted earlier (:func:`follow_job`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .._batch import BatchPlan
from .._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    EcoVideoError,
    InvalidParameterError,
    JobFailedError,
    JobTimeoutError,
    RateLimitError,
    ServerError,
)
from .._flows import submission_unknown
from .._models import Job, JobStatus
from .._params import PARAMETERS, VideoParams
from .._paths import videos_dir
from .._progress import Phase, ProgressEstimator, ProgressInfo
from .._slots import SlotWait
from .._video import Video, default_filename
from ._words import ERROR, PHASE_WORDS, RESUMING, STOPPED, WAITING

if TYPE_CHECKING:
    from .._async_client import AsyncClient

__all__ = ["FOLLOWED", "Publish", "Run", "drive_run", "follow_job"]


class Publish(Protocol):
    """Sends the runs to the front end (throttled unless ``now``)."""

    def __call__(self, *, now: bool = False) -> None: ...


NOTHING_BILLED = "Stopped before the job was submitted: nothing was billed."
#: Said of a submission whose request went out but whose reply never came.
ID_UNKNOWN = (
    "The job may have been created (and billed); its id is unknown because the reply to "
    "its submission was lost. The journal keeps its parameters and seed: see "
    "eco_widget.jobs() or `ecovideo jobs`."
)

#: The ids of the jobs that a widget run of this process follows or has followed: the
#: offer of jobs "from an earlier session" leaves them out.
FOLLOWED: set[str] = set()

@dataclass
class Run:
    """The state of one generation. ``params`` carries the seed from the start; a run
    that follows a job submitted earlier (``attached``: its id) may learn them only from
    the server's answer."""

    key: str
    params: VideoParams | None
    attached: str | None = None
    started_wall: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    phase: str = Phase.SUBMITTING
    label: str | None = None
    job: Job | None = None
    info: ProgressInfo | None = None
    info_at: float | None = None
    video: Video | None = None
    error: BaseException | None = None
    error_kind: str | None = None
    note: str | None = None
    finished: float | None = None
    submitted_at: float | None = None
    processing_at: float | None = None
    completed_at: float | None = None
    #: True once the submission's request was sent (a job may exist from then on).
    sending: bool = False
    task: asyncio.Task[Video] | None = field(default=None, repr=False)
    #: Set when the run ends, from its home loop; read from any thread or loop.
    outcome: concurrent.futures.Future[Video] = field(
        default_factory=lambda: _running_future(), repr=False
    )

    @property
    def active(self) -> bool:
        return self.finished is None

    def set_phase(self, phase: str, label: str | None = None) -> None:
        self.phase, self.label = phase, label

    def finish(self, phase: str, *, note: str | None = None) -> None:
        self.phase, self.label, self.note = phase, None, note
        self.finished = time.monotonic()

    def fail(self, error: BaseException) -> None:
        """End the run with ``error``: the API's or the job's (an :class:`EcoVideoError`),
        or one nobody expected (a bug, a broken disk), shown as failed with its message.
        A submission sent without a reply says that the job may exist."""
        self.error = error
        if isinstance(error, EcoVideoError):
            self.error_kind = _error_kind(error)
            phase = Phase.FAILED if isinstance(error, JobFailedError) else ERROR
        else:
            self.error_kind, phase = "error", Phase.FAILED
        unanswered = self.job is None and self.attached is None and self.sending
        may_exist = not isinstance(error, EcoVideoError) or submission_unknown(error) is not None
        self.finish(phase, note=ID_UNKNOWN if unanswered and may_exist else None)

    def settle(self, task: asyncio.Task[Video]) -> None:
        """Record how the run's task ended (called once it is done, on its loop): a run
        still active never ran its own bookkeeping (cancelled before it started, or
        ended by an exception nobody caught); then tell waiters on any thread."""
        if task.cancelled():
            if self.active:
                self.stopped(None)
            self.outcome.set_exception(asyncio.CancelledError())
            return
        error = task.exception()
        if error is not None:
            if self.active:
                self.fail(error)
            self.outcome.set_exception(error)
        else:
            self.outcome.set_result(task.result())

    def stopped(self, how_to_resume: str | None) -> None:
        """The user stopped waiting: say what became of the job, truthfully."""
        job_id = self.job.id if self.job else self.attached
        if job_id is None:
            self.finish(STOPPED, note=ID_UNKNOWN if self.sending else NOTHING_BILLED)
            return
        resume = (how_to_resume or "client.wait({job_id!r})").format(job_id=job_id)
        self.finish(
            STOPPED,
            note=(
                "Stopped waiting. The job goes on on the server (the API has no cancel): "
                f"pick it up later with {resume}."
            ),
        )

    def timings(self) -> dict[str, float | None]:
        queue = render = total = None
        if self.submitted_at is not None and self.processing_at is not None:
            queue = self.processing_at - self.submitted_at
        if self.processing_at is not None and self.completed_at is not None:
            render = self.completed_at - self.processing_at
        if self.submitted_at is not None and self.completed_at is not None:
            total = self.completed_at - self.submitted_at
        job = self.job
        if total is None and job is not None and job.created and job.completed_at:
            total = max(0.0, job.completed_at - job.created)  # the server's own clock
        return {"queue_seconds": queue, "render_seconds": render, "total_seconds": total}

    def to_json(self) -> dict[str, Any]:
        """The run as the front end's model has it (see static/PROTOCOL.md)."""
        now = time.monotonic()
        end = self.finished if self.finished is not None else now
        info = self.info
        fraction = 1.0 if self.phase == Phase.COMPLETED else (info.fraction if info else 0.0)
        eta = info.eta if info is not None and self.active else None
        video = None
        if self.video is not None and self.video.path is not None:
            video = {
                "size": self.video.size,
                "filename": default_filename(self.video.job),
                "saved_path": str(self.video.path),
            }
        error = None
        if self.error is not None:
            error = {"kind": self.error_kind, "message": _plain(self.error)}
        label = self.label or PHASE_WORDS.get(self.phase, self.phase.capitalize())
        if self.phase == Phase.PROCESSING and info is not None and info.phase_fraction:
            label = f"Processing, {round(100 * info.phase_fraction)} %"
        return {
            "key": self.key,
            "job_id": self.job.id if self.job else self.attached,
            "phase": self.phase,
            "phase_label": label,
            "active": self.active,
            "fraction": round(fraction, 4),
            "estimated": info.estimated if info else True,
            "started_at": round(self.started_wall * 1000),
            "eta_seconds": None if eta is None else round(eta, 2),
            "eta_at": None if self.info_at is None else round(self.info_at * 1000),
            "elapsed_seconds": round(end - self.started, 2),
            **_params_json(self.params),
            **{name: _round(value) for name, value in self.timings().items()},
            "video": video,
            "error": error,
            "note": self.note,
        }


def _params_json(params: VideoParams | None) -> dict[str, Any]:
    names = ("prompt", *PARAMETERS)
    if params is None:  # a job looked up by id, before the server answered
        return {**dict.fromkeys(names), "duration_seconds": None}
    return {
        **{name: getattr(params, name) for name in names},
        "duration_seconds": params.duration_seconds,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _error_kind(error: EcoVideoError) -> str:
    kinds: tuple[tuple[type[EcoVideoError], str], ...] = (
        (InvalidParameterError, "validation"),
        (AuthenticationError, "authentication"),
        (RateLimitError, "rate_limit"),
        (JobFailedError, "failed"),
        (JobTimeoutError, "timeout"),
        (APIConnectionError, "network"),
        (ServerError, "server"),
    )
    for cls, kind in kinds:
        if isinstance(error, cls):
            return kind
    return "error"


def _plain(error: BaseException) -> str:
    if isinstance(error, JobFailedError):
        reason = error.job.error.message if error.job.error else "no reason given"
        return f"The job failed: {reason}"
    if isinstance(error, APIError):
        return error.message
    if isinstance(error, EcoVideoError):
        return str(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _running_future() -> concurrent.futures.Future[Video]:
    """A future that only its run sets: waiters cannot cancel it."""
    future: concurrent.futures.Future[Video] = concurrent.futures.Future()
    future.set_running_or_notify_cancel()
    return future


class _Observer:
    """Takes in a run's job snapshots: times, progress and phase, published as they
    change (a new phase at once, progress throttled)."""

    def __init__(self, run: Run, client: AsyncClient, publish: Publish):
        self.run, self.client, self.publish = run, client, publish
        self.estimator: ProgressEstimator | None = None

    def start(self, phase: str) -> None:
        run = self.run
        run.set_phase(phase)
        if run.params is not None:
            self._estimator()
            self._refresh()
        self.publish(now=True)

    def _estimator(self) -> ProgressEstimator:
        if self.estimator is None:
            started = self.run.started if self.run.attached else time.monotonic()
            self.estimator = ProgressEstimator(self.client.timing, self.run.params, started)
        return self.estimator

    def _refresh(self) -> None:
        assert self.estimator is not None
        self.run.info, self.run.info_at = self.estimator.info(time.monotonic()), time.time()

    def observe(self, job: Job) -> None:
        now = time.monotonic()
        run = self.run
        FOLLOWED.add(job.id)
        run.job = job
        if run.params is None and job.params is not None:
            run.params = job.params
        if job.status == JobStatus.PROCESSING.value and run.processing_at is None:
            run.processing_at = now
        if job.is_terminal and run.completed_at is None:
            run.completed_at = now
        self._estimator().observe(job, now)
        self._refresh()
        before = run.phase
        run.set_phase(job.status if not job.is_terminal else Phase.DOWNLOADING)
        self.publish(now=run.phase != before)

    def done(self, video: Video) -> Video:
        run = self.run
        run.video, run.job = video, video.job
        if run.params is None:
            run.params = video.job.params
        run.finish(Phase.COMPLETED)
        return video


async def drive_run(
    run: Run,
    client: AsyncClient,
    publish: Publish,
    *,
    timeout: float,
    batch: tuple[BatchPlan, int] | None = None,
) -> Video:
    """Take ``run`` from a free slot to a saved video, publishing each change; as item
    ``index`` of ``batch = (plan, index)``, the batch's item flow (its saved video, its
    unfinished job, or a submission journaled under the batch).

    Raises what stopped it (the run records it too); ``asyncio.CancelledError`` when
    the user stopped waiting.
    """
    observer = _Observer(run, client, publish)

    def waiting(wait: SlotWait) -> None:
        if wait.reason == "server":
            label = f"Waiting for a free slot (the account has {wait.limit} jobs running)"
        else:
            label = f"Waiting for a free slot ({wait.active} jobs running)"
        run.set_phase(WAITING, label)
        publish(now=True)

    def sending(_params: VideoParams) -> None:
        run.sending = True
        if run.phase != Phase.SUBMITTING:
            run.set_phase(Phase.SUBMITTING)
            publish(now=True)

    def update(job: Job) -> None:
        if run.submitted_at is None:
            run.submitted_at = time.monotonic()
        observer.observe(job)

    target = None if client.autosave is not None else _unique_path
    if batch is not None:
        plan, index = batch
        flow = client._batch_item(
            plan, index, timeout, update, waiting, on_sending=sending, default_target=target
        )
    else:
        params = run.params
        assert params is not None
        flow = client._generate_params(
            params, target, timeout, update, waiting, on_sending=sending
        )
    return await _follow(run, observer, publish, client._drive(flow), "client.wait({job_id!r})")


async def follow_job(
    run: Run,
    client: AsyncClient,
    publish: Publish,
    *,
    timeout: float,
) -> Video:
    """Follow the job ``run.attached``, submitted earlier (maybe by another process),
    to a saved video: the same phases as :func:`drive_run` from the job's current
    status on. A video the journal has saved is shown at once, without a request.

    Raises what stopped it (the run records it: a failed, expired or unknown job);
    ``asyncio.CancelledError`` when the user stopped waiting.
    """
    assert run.attached is not None
    observer = _Observer(run, client, publish)
    FOLLOWED.add(run.attached)
    result = client.result(
        run.attached,
        path=None if client.autosave is not None else _unique_path,  # type: ignore[arg-type]
        timeout=timeout,
        on_update=observer.observe,
    )
    return await _follow(run, observer, publish, result, "VideoWidget.from_job({job_id!r})")


async def _follow(
    run: Run,
    observer: _Observer,
    publish: Publish,
    video: Coroutine[Any, Any, Video],
    how_to_resume: str,
) -> Video:
    """Await ``video`` for ``run``, recording how it ends: done, stopped, or failed
    with whatever was raised."""
    try:
        observer.start(RESUMING if run.attached else Phase.SUBMITTING)
        done = await video
        await asyncio.to_thread(lambda: done.size)  # the file's size, read off the loop
        return observer.done(done)
    except asyncio.CancelledError:
        run.stopped(how_to_resume)
        raise
    except Exception as exc:
        run.fail(exc)
        raise
    finally:
        video.close()  # never started when start() failed
        publish(now=True)


def _unique_path(job: Job) -> Path:
    """Where a widget saves a video when its client does not auto-save."""
    folder = videos_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / default_filename(job, unique=True)
