"""How far along a job is, for progress bars: phase, fraction, elapsed and ETA. No I/O.

The estimate uses the same expectations as the poll schedule: the server's
``progress`` while processing when it sends one, otherwise the typical queue and
processing times this client has learned (or the published ones).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._models import Job, JobStatus
from ._params import VideoParams
from ._polling import PollSchedule, TimingModel

__all__ = ["Phase", "ProgressEstimator", "ProgressInfo"]


class Phase:
    """The phases a generation goes through, as shown to people."""

    SUBMITTING = "submitting"
    QUEUED = "queued"
    PROCESSING = "processing"
    DOWNLOADING = "downloading"
    COMPLETED = "completed"
    FAILED = "failed"


# Shares of the bar: the queue and rendering take it, downloading the last sliver.
_DOWNLOAD_SHARE = 0.03


@dataclass(frozen=True)
class ProgressInfo:
    """One reading of a job's progress.

    ``fraction`` is the whole generation's progress in 0..1, ``phase_fraction`` the
    current phase's (None when nothing is known), ``eta`` the expected seconds left
    (None once terminal or unknown). ``estimated`` is False when the processing
    fraction comes from the server's own ``progress``.
    """

    phase: str
    fraction: float
    phase_fraction: float | None
    elapsed: float
    eta: float | None
    estimated: bool = True


class ProgressEstimator:
    """Turns snapshots into :class:`ProgressInfo`. Times come from one monotonic clock
    (the caller's); ``started`` is when the job was submitted."""

    def __init__(self, timing: TimingModel, params: VideoParams | None, started: float):
        self.started = started
        self._timing = timing
        self._params = params
        self._schedule = PollSchedule(_Detached(timing), started=started, params=params)
        self._job: Job | None = None

    def observe(self, job: Job, now: float) -> None:
        """Take in a snapshot read at ``now``."""
        self._job = job
        self._schedule.observe(job, now)

    def info(self, now: float, *, phase: str | None = None) -> ProgressInfo:
        """The progress at ``now``; ``phase`` overrides the job's (``downloading``)."""
        job = self._job
        elapsed = max(0.0, now - self.started)
        status = phase or (job.status if job is not None else Phase.SUBMITTING)
        if status == Phase.COMPLETED:
            return ProgressInfo(status, 1.0, 1.0, elapsed, 0.0, estimated=False)
        if status == Phase.FAILED:
            return ProgressInfo(status, self._last_fraction(now), None, elapsed, None)
        if status == Phase.DOWNLOADING:
            return ProgressInfo(status, 1.0 - _DOWNLOAD_SHARE, None, elapsed, None, False)
        return self._running(status, now, elapsed)

    def _last_fraction(self, now: float) -> float:
        return self._running(JobStatus.PROCESSING.value, now, now - self.started).fraction

    def _running(self, status: str, now: float, elapsed: float) -> ProgressInfo:
        queue = self._timing.expected_queue()
        processing = self._timing.expected_processing(self._params)
        span = (queue + processing) or 1.0
        queue_share = (1.0 - _DOWNLOAD_SHARE) * queue / span
        end, from_progress = self._schedule.expected_end(now)
        eta = max(0.0, end - now)
        if status == JobStatus.PROCESSING.value:
            job = self._job
            if job is not None and job.progress is not None:
                phase_fraction, estimated = job.progress, False
            else:
                phase_fraction = 1.0 - eta / processing if processing else 0.0
                estimated = not from_progress
            phase_fraction = min(0.99, max(0.0, phase_fraction))
            fraction = queue_share + (1.0 - _DOWNLOAD_SHARE - queue_share) * phase_fraction
            return ProgressInfo(status, fraction, phase_fraction, elapsed, eta, estimated)
        # Queued, submitting, or a status this client does not know: the queue's share.
        phase_fraction = min(0.99, elapsed / queue) if queue else 0.0
        return ProgressInfo(status, queue_share * phase_fraction, phase_fraction, elapsed, eta)


class _Detached(TimingModel):
    """The client's timing model, read but never taught: the poll schedule of the
    wait itself does the learning."""

    def __init__(self, timing: TimingModel):
        super().__init__(policy=timing.policy)
        self._source = timing

    def expected_queue(self) -> float:
        return self._source.expected_queue()

    def expected_processing(self, params: VideoParams | None) -> float:
        return self._source.expected_processing(params)

    def observe(self, params: VideoParams | None, queue: float, processing: float) -> None:
        return None
