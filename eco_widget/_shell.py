"""What :class:`Client` and :class:`AsyncClient` share: configuration, the journal, the
auto-save folder, and the flows built from the public methods' arguments (validation
happens here, before anything is sent). The two shells only perform the steps."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import httpx

from ._batch import BatchPlan
from ._config import resolve_settings
from ._exceptions import EcoVideoError, InvalidParameterError
from ._flows import Runtime, get_flow, submit_flow, wait_flow
from ._journal import Journal, JournalEntry
from ._lifecycle import fetch_flow, generate_flow
from ._models import Job
from ._params import VideoParams
from ._paths import inside
from ._polling import PollPolicy, TimingModel
from ._protocol import (
    AsyncUpdateCallback,
    AsyncWaitCallback,
    Blocking,
    CheckTarget,
    CloseSink,
    Endpoint,
    Lookup,
    OpenSink,
    Record,
    Reserve,
    ResetSink,
    Sink,
    Step,
    Unreserve,
)
from ._retry import RetryPolicy
from ._sinks import DEFAULT_MAX_VIDEO_BYTES, FileSink, MemorySink, check_target
from ._slots import SlotLimiter, limiter_for
from ._video import Video, default_filename

__all__ = ["DEFAULT_TIMEOUT", "HTTP_TIMEOUT", "JobRef", "PathLike", "Shell"]

#: Seconds a wait lasts before :class:`JobTimeoutError` (production jobs take 1–3 min).
DEFAULT_TIMEOUT = 900.0
#: httpx timeouts: connect, then each read/write of a request.
HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

JobRef = Job | str
PathLike = str | os.PathLike[str]
#: Where a video goes: a file or folder, a function of the job (batch templates), or
#: ``None`` (the auto-save folder, else memory).
Target = PathLike | Callable[[Job], PathLike] | None
Flow = Generator[Step, Any, Any]
logger = logging.getLogger("eco_widget")


def _video(job: Job, result: bytes | Path) -> Video:
    if isinstance(result, Path):
        return Video(job, path=result)
    return Video(job, data=result)


class Shell:
    """Configuration and flow building for both clients."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        max_retries: int,
        poll_policy: PollPolicy | None,
        autosave: bool | PathLike,
        journal: bool | Journal,
        max_video_bytes: int | None = DEFAULT_MAX_VIDEO_BYTES,
    ):
        settings = resolve_settings(api_key, base_url)
        if max_video_bytes is not None and (
            isinstance(max_video_bytes, bool)
            or not isinstance(max_video_bytes, int)
            or max_video_bytes < 1
        ):
            raise InvalidParameterError(
                "max_video_bytes", max_video_bytes, "a positive number of bytes, or None"
            )
        self._max_video_bytes = max_video_bytes
        self._settings = settings
        policy = poll_policy or settings.poll_policy or PollPolicy()
        self._rt = Runtime(
            endpoint=Endpoint(settings.base_url, settings.api_key),
            retry=RetryPolicy(max_attempts=max_retries + 1),
            timing=TimingModel(policy),
        )
        self._key_id = hashlib.sha256((settings.api_key or "").encode()).hexdigest()[:12]
        if journal is True:
            journal = Journal()
        self._journal: Journal | None = journal or None
        if autosave is True:
            from ._paths import videos_dir

            autosave = videos_dir()
        elif isinstance(autosave, (str, os.PathLike)):
            autosave = Path(autosave).expanduser()
        elif autosave is not False:
            raise InvalidParameterError(
                "autosave", autosave, "True, False or the folder to save videos in"
            )
        self._autosave: Path | None = autosave or None
        #: Journal writes that failed, tried again before the next one.
        self._backlog: list[Unreserve | Record] = []
        self._backlog_lock = threading.Lock()

    # -- facts --------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The API's base URL (the sandbox's loopback URL for ``"sandbox"``)."""
        return self._settings.base_url

    @property
    def account(self) -> str:
        """Who the jobs belong to, without the key: where they are filed (the base URL)
        and a short hash of the key."""
        return f"{self._settings.origin}#{self._key_id}"

    @property
    def is_sandbox(self) -> bool:
        """True when this client talks to the embedded local server."""
        return self._settings.is_sandbox

    @property
    def timing(self) -> TimingModel:
        """What this client has learned of the server's queue and processing times."""
        return self._rt.timing

    @property
    def autosave(self) -> Path | None:
        """The folder finished videos are saved in at once (``None``: off)."""
        return self._autosave

    @property
    def journal(self) -> Journal | None:
        """The job journal this client writes (``None``: off)."""
        return self._journal

    @property
    def limiter(self) -> SlotLimiter:
        """This account's job slots in this process (five, shared by every client)."""
        return limiter_for(self.account)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # -- the steps both shells perform the same way ---------------------------------------
    def _local(self, step: Reserve | Unreserve | Record | Lookup) -> Any:
        """Perform a journal step (the async shell calls this in a worker thread).

        The row before a submission must be written (its error is raised: nothing is
        sent). Later writes are best effort: one that fails is logged and kept, and
        tried again before the next write, so that a busy or full disk never ends a
        wait nor loses a video.
        """
        journal, origin = self._journal, self._settings.origin
        if journal is None:
            return None
        if isinstance(step, Lookup):
            return journal.get(origin, step.job_id)
        if isinstance(step, Reserve):
            return journal.reserve(
                step.params, base_url=origin, account=self._key_id, batch=step.batch
            )
        with self._backlog_lock:
            self._backlog.append(step)
            backlog, self._backlog = self._backlog, []
        for index, pending in enumerate(backlog):
            try:
                self._write(journal, pending)
            except (EcoVideoError, OSError) as exc:
                logger.warning("the job journal could not be written (tried again later): %s", exc)
                with self._backlog_lock:
                    self._backlog[:0] = backlog[index:]
                break
        return None

    def _write(self, journal: Journal, step: Unreserve | Record) -> None:
        origin = self._settings.origin
        if isinstance(step, Unreserve):
            if step.reservation is not None:
                journal.unreserve(origin, step.reservation, step.unknown)
        elif step.saved is not None:
            journal.record_saved(origin, step.job.id, step.saved)
        elif step.outcome is not None:
            journal.record_outcome(origin, step.job.id, *step.outcome)
        else:
            journal.record(
                step.job,
                base_url=origin,
                account=self._key_id,
                batch=step.batch,
                reservation=step.reservation,
            )

    def _unfinished(self) -> list[JournalEntry]:
        if self._journal is None:
            raise InvalidParameterError(
                "journal", False, "a client with its journal on", "this client keeps no journal"
            )
        return self._journal.unfinished(self._settings.origin, self._key_id)

    # -- sinks: the steps that touch the disk where a video goes ---------------------------
    def _sink_step(self, step: CheckTarget | OpenSink | ResetSink | CloseSink) -> Any:
        """Perform a sink step (the async shell calls this in a worker thread)."""
        if isinstance(step, CheckTarget):
            return self._check_target(step.target, step.params)
        if isinstance(step, OpenSink):
            return self._sink(step.job, step.target)
        if isinstance(step, ResetSink):
            return step.sink.reset()
        if step.keep:
            return step.sink.finish()
        return step.sink.discard()

    def _sink(self, job: Job, path: Target) -> Sink:
        """Where ``job``'s video goes. A file name made from the job is kept inside its
        folder."""
        limit = self._max_video_bytes
        if path is None:
            if self._autosave is None:
                return MemorySink(limit)
            return FileSink(inside(self._autosave, default_filename(job, unique=True)), limit)
        target = Path(path(job) if callable(path) else path).expanduser()
        if target.is_dir():
            target = inside(target, default_filename(job))
        return FileSink(target, limit)

    def _check_target(self, path: Target, params: VideoParams) -> None:
        """The check, before a job is submitted, that its video can be saved where it
        will go (:class:`OutputPathError` naming the place): the auto-save folder, or
        ``path`` (a file, a folder, or a template filled in for these parameters)."""
        if path is None:
            if self._autosave is not None:
                check_target(self._autosave, folder=True)
            return
        if callable(path):
            check_target(Path(path(Job("preflight", "queued", params=params))), folder=False)
            return
        check_target(Path(path), folder=False)

    # -- flows ----------------------------------------------------------------------------
    def _submit(
        self, prompt: str, timeout: float | None, on_wait: AsyncWaitCallback | None, **params: Any
    ) -> Flow:
        flow_params = VideoParams.create(prompt, **params)
        return submit_flow(self._rt, flow_params, timeout=timeout, on_wait=on_wait)

    def _get(self, job_id: JobRef) -> Flow:
        if isinstance(job_id, Job):
            return get_flow(self._rt, job_id.id, job_id.params)
        return get_flow(self._rt, job_id)

    def _wait(self, job: JobRef, timeout: float, on_update: AsyncUpdateCallback | None) -> Flow:
        if isinstance(job, str):
            job = yield from get_flow(self._rt, job)
        job = yield from wait_flow(self._rt, job, timeout=timeout, on_update=on_update)
        if job.is_completed and self._autosave is not None:
            # Seen completed: saved at once, before its URL can expire. A failure here
            # is journaled (expired) or left for resume(); the wait itself succeeded.
            try:
                yield from fetch_flow(self._rt, job, None, wait=False)
            except EcoVideoError as exc:
                logger.warning("job %s completed but could not be saved yet: %s", job.id, exc)
        return job

    def _download(self, job: JobRef, path: PathLike | None) -> Flow:
        job, result = yield from fetch_flow(self._rt, job, path, wait=False)
        if isinstance(result, Path):  # auto-saved, or already saved earlier
            if path is None:
                return (yield Blocking(result.read_bytes))
            return (yield Blocking(lambda: Video(job, path=result).save(path)))
        return result

    def _fetch(
        self, job: JobRef, path: Target, timeout: float, on_update: AsyncUpdateCallback | None
    ) -> Flow:
        job, result = yield from fetch_flow(
            self._rt,
            job,
            path,
            wait=True,
            timeout=timeout,
            on_update=on_update,
            limiter=self.limiter,
        )
        return _video(job, result)

    def _generate(
        self,
        prompt: str,
        path: PathLike | None,
        timeout: float,
        on_update: AsyncUpdateCallback | None,
        on_wait: AsyncWaitCallback | None,
        **params: Any,
    ) -> Flow:
        flow_params = VideoParams.create(prompt, **params)
        return self._generate_params(flow_params, path, timeout, on_update, on_wait)

    def _generate_params(
        self,
        params: VideoParams,
        path: Target,
        timeout: float,
        on_update: AsyncUpdateCallback | None,
        on_wait: AsyncWaitCallback | None,
        batch: tuple[str, int] | None = None,
        on_sending: Callable[[VideoParams], Any] | None = None,
    ) -> Flow:
        """The flow of one generation. Its journal row is written before the submission
        is sent (the :class:`Reserve` step): never a job without its row."""
        job, result = yield from generate_flow(
            self._rt,
            params,
            path,
            timeout=timeout,
            on_update=on_update,
            on_wait=on_wait,
            limiter=self.limiter,
            batch=batch,
            on_sending=on_sending,
        )
        return _video(job, result)

    # -- batches: one orchestration, whoever runs the items -------------------------------
    def _plan(
        self, items: Any, concurrency: int, path_template: str | None, resume: bool
    ) -> BatchPlan:
        """Check every item and name the batch; with ``resume``, read what the journal
        has of an earlier run of it (a journal read: off the loop in the async shell)."""
        plan = BatchPlan(
            items, account=self.account, concurrency=concurrency, path_template=path_template
        )
        if resume and self._journal is not None:
            plan.previous = self._journal.batch(plan.key)
        return plan

    def _batch_item(
        self,
        plan: BatchPlan,
        index: int,
        timeout: float,
        on_update: AsyncUpdateCallback | None,
        on_wait: AsyncWaitCallback | None,
        *,
        on_sending: Callable[[VideoParams], Any] | None = None,
        default_target: Target = None,
    ) -> Flow:
        """One item of a batch: its saved video, its unfinished job picked up again, or a
        new submission (with the seed an earlier, failed try drew; also after a try
        whose reply was lost, which the journal keeps as "outcome unknown"). The video
        goes where the plan's template says, else to ``default_target``."""
        entry = plan.previous.get(index)
        path = plan.target(index) or default_target
        if entry is not None:
            saved: bool = yield Blocking(lambda: entry.is_saved)  # a stat of the file
            if saved and entry.saved_path is not None:
                return Video(entry.job, path=entry.saved_path)
            resumable = not entry.is_finished and not entry.is_unknown
            if resumable and not entry.is_expired():
                video: Video = yield from self._fetch(entry.job_id, path, timeout, on_update)
                return video
        params = plan.params_for(index)
        video = yield from self._generate_params(
            params,
            path,
            timeout,
            on_update,
            on_wait,
            batch=(plan.key, index),
            on_sending=on_sending,
        )
        return video
