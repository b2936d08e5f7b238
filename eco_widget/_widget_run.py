"""One generation of a widget: its state as the front end sees it, and the task that
drives it on the kernel's event loop (wait for a slot, submit, poll, download, save), or
follows a job submitted earlier (:func:`follow_job`)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ._exceptions import (
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
from ._models import Job, JobStatus
from ._params import VideoParams
from ._paths import videos_dir
from ._progress import Phase, ProgressEstimator, ProgressInfo
from ._slots import SlotWait
from ._video import Video, default_filename

if TYPE_CHECKING:
    from ._client import AsyncClient

__all__ = ["FOLLOWED", "Publish", "Run", "drive_run", "follow_job"]


class Publish(Protocol):
    """Sends the runs to the front end (throttled unless ``now``)."""

    def __call__(self, *, now: bool = False) -> None: ...


WAITING = "waiting"
RESUMING = "resuming"
STOPPED = "stopped"
ERROR = "error"

#: The ids of the jobs that a widget run of this process follows or has followed: the
#: offer of jobs "from an earlier session" leaves them out.
FOLLOWED: set[str] = set()

_LABELS = {
    WAITING: "Waiting for a free slot",
    RESUMING: "Looking up the job",
    Phase.SUBMITTING: "Submitting",
    Phase.QUEUED: "Queued",
    Phase.PROCESSING: "Processing",
    Phase.DOWNLOADING: "Downloading",
    Phase.COMPLETED: "Completed",
    Phase.FAILED: "Failed",
    STOPPED: "Stopped waiting",
    ERROR: "Error",
}


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
    error: EcoVideoError | None = None
    error_kind: str | None = None
    note: str | None = None
    finished: float | None = None
    submitted_at: float | None = None
    processing_at: float | None = None
    completed_at: float | None = None
    task: asyncio.Task[Video] | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.finished is None

    def set_phase(self, phase: str, label: str | None = None) -> None:
        self.phase, self.label = phase, label

    def finish(self, phase: str, *, note: str | None = None) -> None:
        self.phase, self.label, self.note = phase, None, note
        self.finished = time.monotonic()

    def fail(self, error: EcoVideoError) -> None:
        self.error, self.error_kind = error, _error_kind(error)
        self.finish(Phase.FAILED if isinstance(error, JobFailedError) else ERROR)

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
        label = self.label or _LABELS.get(self.phase, self.phase.capitalize())
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
    names = ("prompt", "seed", "num_frames", "fps", "num_inference_steps", "guidance_scale")
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


def _plain(error: EcoVideoError) -> str:
    if isinstance(error, JobFailedError):
        reason = error.job.error.message if error.job.error else "no reason given"
        return f"The job failed: {reason}"
    if isinstance(error, APIError):
        return error.message
    return str(error)


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

    def stopped(self, how_to_resume: str) -> None:
        run = self.run
        job_id = run.job.id if run.job else run.attached
        if job_id is None:
            run.finish(STOPPED, note="Stopped before the job was submitted: nothing was billed.")
        else:
            run.finish(
                STOPPED,
                note=(
                    "Stopped waiting. The job goes on on the server (the API has no cancel): "
                    f"pick it up later with {how_to_resume.format(job_id=job_id)}."
                ),
            )


async def drive_run(
    run: Run,
    client: AsyncClient,
    publish: Publish,
    *,
    timeout: float,
) -> Video:
    """Take ``run`` from a free slot to a saved video, publishing each change.

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

    def update(job: Job) -> None:
        if run.submitted_at is None:
            run.submitted_at = time.monotonic()
        observer.observe(job)

    try:
        observer.start(Phase.SUBMITTING)
        params = run.params
        assert params is not None
        video = await client.generate(
            params.prompt,
            num_frames=params.num_frames,
            fps=params.fps,
            num_inference_steps=params.num_inference_steps,
            guidance_scale=params.guidance_scale,
            seed=params.seed,
            path=None if client.autosave is not None else _unique_path,
            timeout=timeout,
            on_update=update,
            on_wait=waiting,
        )
        return observer.done(video)
    except asyncio.CancelledError:
        observer.stopped("client.wait({job_id!r})")
        raise
    except EcoVideoError as exc:
        run.fail(exc)
        raise
    finally:
        publish(now=True)


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
    try:
        observer.start(RESUMING)
        video = await client.result(
            run.attached,
            path=None if client.autosave is not None else _unique_path,  # type: ignore[arg-type]
            timeout=timeout,
            on_update=observer.observe,
        )
        return observer.done(video)
    except asyncio.CancelledError:
        observer.stopped("VideoWidget.from_job({job_id!r})")
        raise
    except EcoVideoError as exc:
        run.fail(exc)
        raise
    finally:
        publish(now=True)


def _unique_path(job: Job) -> Path:
    """Where a widget saves a video when its client does not auto-save."""
    folder = videos_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / default_filename(job, unique=True)
