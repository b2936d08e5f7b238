"""``Client``: the blocking shell that drives the flows over httpx.

Every decision — retries, polling, resuming a download, journaling, waiting for a slot —
is made in the flows (:mod:`._flows`, :mod:`._lifecycle`); a shell only performs the
steps a flow yields: send, stream, sleep, notify, record, look up, acquire, open and
close a sink. What both shells share lives in :mod:`._shell`; the asyncio shell is
:mod:`._async_client`.
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import threading
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar, assert_never, overload

import httpx

from ._batch import BatchItem, BatchResult
from ._batch_progress import INTERRUPTED, BatchProgress
from ._exceptions import InvalidParameterError
from ._journal import Journal
from ._models import Job
from ._polling import PollPolicy
from ._protocol import (
    Acquire,
    Blocking,
    CheckTarget,
    CloseSink,
    Lookup,
    Notify,
    OpenSink,
    Record,
    Reserve,
    ResetSink,
    Send,
    Sleep,
    Step,
    Stream,
    Unreserve,
    UpdateCallback,
    WaitCallback,
)
from ._recovery import ResumeResult
from ._shell import DEFAULT_TIMEOUT, HTTP_TIMEOUT, JobRef, PathLike, Shell
from ._sinks import DEFAULT_MAX_VIDEO_BYTES
from ._slots import MAX_ACTIVE_JOBS
from ._video import Video

__all__ = ["Client"]

T = TypeVar("T")


def _plain(name: str, callback: Callable[..., Any] | None) -> None:
    """Refuse a coroutine function where ``Client`` calls ``callback`` (it could only
    make a coroutine nobody awaits), before anything is sent."""
    if callback is not None and inspect.iscoroutinefunction(callback):
        raise InvalidParameterError(
            name,
            callback,
            "a plain function (Client calls it; AsyncClient also awaits coroutine functions)",
        )


class Client(Shell):
    """The Ecohash video API, blocking.

    >>> with Client(base_url="sandbox") as client:          # doctest: +SKIP
    ...     video = client.generate("a red balloon over a mountain at dawn")
    ...     video.path, video.seed

    ``api_key`` defaults to ``ECOHASH_API_KEY``; ``base_url`` to ``ECOHASH_BASE_URL``,
    then ``https://api.ecohash.com``; ``"sandbox"`` runs the local server in this
    process. Reads are retried ``max_retries`` times; a submit only when the connection
    could not be opened, or when the server refused it with 429.

    Every submitted job is written to the job journal (``journal=False`` turns it off)
    and every finished video is saved at once in ``autosave`` (default: the ``videos``
    folder of the data folder, ``ECOHASH_HOME``; a folder, or ``False`` for none).
    At most five jobs per account run at once in this process; more wait for a slot.
    Pass ``http_client`` (not closed by this client) or ``transport`` to control the
    HTTP layer. A video body over ``max_video_bytes`` (default 1 GiB; ``None``: no
    limit) is refused with :class:`VideoTooLargeError`, and one that is not an MP4 with
    :class:`UnexpectedResponseError`: nothing is kept.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        max_retries: int = 4,
        poll_policy: PollPolicy | None = None,
        autosave: bool | PathLike = True,
        journal: bool | Journal = True,
        max_video_bytes: int | None = DEFAULT_MAX_VIDEO_BYTES,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = HTTP_TIMEOUT,
    ):
        super().__init__(
            api_key, base_url, max_retries, poll_policy, autosave, journal, max_video_bytes
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(transport=transport, timeout=timeout)

    # -- the driver ---------------------------------------------------------------------
    def _drive(self, flow: Generator[Step, Any, T], cancel: threading.Event | None = None) -> T:
        """Run ``flow`` to its end; with ``cancel``, sleeps and slot waits end with
        ``InterruptedError`` once it is set."""
        reply: Any = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    step = flow.throw(error) if error is not None else flow.send(reply)
                except StopIteration as stop:
                    return stop.value
                reply, error = None, None
                try:
                    reply = self._perform(step, cancel)
                except BaseException as exc:  # thrown into the flow: it decides
                    error = exc
        finally:
            flow.close()

    def _perform(self, step: Step, cancel: threading.Event | None) -> Any:
        if isinstance(step, Sleep):
            if cancel is None:
                time.sleep(step.seconds)
            elif cancel.wait(step.seconds):
                raise InterruptedError("stopped")
        elif isinstance(step, Send):
            return self._http.send(step.request)
        elif isinstance(step, Stream):
            response = self._http.send(step.request, stream=True, follow_redirects=True)
            try:
                if step.sink.accept(response):
                    for chunk in response.iter_bytes():
                        step.sink.write(chunk)
                else:
                    response.read()
            finally:
                response.close()
            return response
        elif isinstance(step, Notify):
            result = step.callback(step.value)
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()  # never awaited: no "never awaited" warning either
                raise TypeError(
                    f"{step.callback!r} returned an awaitable: Client calls plain functions "
                    "(use AsyncClient for coroutine functions)"
                )
        elif isinstance(step, Reserve):
            if cancel is not None and cancel.is_set():
                raise InterruptedError("interrupted: no new job is submitted")
            return self._local(step)
        elif isinstance(step, (Unreserve, Record, Lookup)):
            return self._local(step)
        elif isinstance(step, (CheckTarget, OpenSink, ResetSink, CloseSink)):
            return self._sink_step(step)
        elif isinstance(step, Blocking):
            return step.function()
        elif isinstance(step, Acquire):
            return step.limiter.acquire(cancel, timeout=step.timeout)
        else:
            assert_never(step)
        return None

    # -- the API ------------------------------------------------------------------------
    def submit(
        self,
        prompt: str,
        *,
        num_frames: int = 33,
        fps: int = 16,
        num_inference_steps: int = 50,
        guidance_scale: float = 5.0,
        seed: int | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        on_wait: WaitCallback | None = None,
    ) -> Job:
        """Submit a job, journal it and return its first snapshot (``queued``).

        Parameters are validated first (:class:`InvalidParameterError`, nothing sent).
        With no ``seed`` one is drawn and sent, so ``job.seed`` is always known. When
        the account's five slots are full (429), the submission waits per
        ``Retry-After`` and tries again for up to ``timeout`` seconds, telling
        ``on_wait`` (``None``: raise :class:`RateLimitError` at once).
        """
        _plain("on_wait", on_wait)
        return self._drive(
            self._submit(
                prompt,
                timeout,
                on_wait,
                num_frames=num_frames,
                fps=fps,
                num_inference_steps=num_inference_steps,
                guidance_scale=guidance_scale,
                seed=seed,
            )
        )

    def get(self, job_id: JobRef) -> Job:
        """Read a job's current snapshot."""
        return self._drive(self._get(job_id))

    def wait(
        self,
        job: JobRef,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        on_update: UpdateCallback | None = None,
    ) -> Job:
        """Poll until the job is ``completed`` or ``failed`` and return it.

        ``on_update(job)`` is called with each new snapshot. After ``timeout`` seconds
        :class:`JobTimeoutError` is raised with the last snapshot; the job goes on. A
        job seen completed is saved in the auto-save folder at once (when it is on), so
        that ``download`` later reads it from disk even after its URL expired.
        """
        _plain("on_update", on_update)
        return self._drive(self._wait(job, timeout, on_update))

    @overload
    def download(self, job: JobRef, path: None = None) -> bytes: ...
    @overload
    def download(self, job: JobRef, path: PathLike) -> Path: ...
    def download(self, job: JobRef, path: PathLike | None = None) -> bytes | Path:
        """A completed job's MP4: its bytes, or — with ``path`` (a file, or a directory
        to name it in) — streamed to disk atomically and the path returned. A video the
        journal already saved is read from disk (its URL may have expired since)."""
        return self._drive(self._download(job, path))

    def result(
        self,
        job: JobRef,
        *,
        path: PathLike | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        on_update: UpdateCallback | None = None,
    ) -> Video:
        """The :class:`Video` of a job submitted earlier (by id or :class:`Job`): waits
        while it runs, downloads and saves it, or returns the file the journal has.
        Raises :class:`JobFailedError`, :class:`VideoExpiredError` (its URL expired
        before it was saved) or :class:`JobTimeoutError`."""
        _plain("on_update", on_update)
        return self._drive(self._fetch(job, path, timeout, on_update))

    def generate(
        self,
        prompt: str,
        *,
        num_frames: int = 33,
        fps: int = 16,
        num_inference_steps: int = 50,
        guidance_scale: float = 5.0,
        seed: int | None = None,
        path: PathLike | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        on_update: UpdateCallback | None = None,
        on_wait: WaitCallback | None = None,
    ) -> Video:
        """Submit, wait and download: the finished :class:`Video`, saved to ``path`` when
        given, else in the auto-save folder (else kept in memory). A sixth job of the
        account waits for a slot, telling ``on_wait``. Raises :class:`JobFailedError`
        when the job fails."""
        _plain("on_update", on_update)
        _plain("on_wait", on_wait)
        return self._drive(
            self._generate(
                prompt,
                path,
                timeout,
                on_update,
                on_wait,
                num_frames=num_frames,
                fps=fps,
                num_inference_steps=num_inference_steps,
                guidance_scale=guidance_scale,
                seed=seed,
            )
        )

    def resume(
        self, *, timeout: float = DEFAULT_TIMEOUT, on_update: UpdateCallback | None = None
    ) -> ResumeResult:
        """Recover this account's unfinished jobs from the journal: wait for those still
        running, download every completed one not yet saved, report the rest. Expired
        and failed jobs are reported once and not tried again. Jobs are recovered five
        at a time, on threads: ``on_update`` may be called from any of them."""
        _plain("on_update", on_update)
        entries = self._unfinished()

        def fetch(job_id: str, cancel: threading.Event) -> Video:
            video: Video = self._drive(self._fetch(job_id, None, timeout, on_update), cancel)
            return video

        outcomes = self._parallel(
            [functools.partial(fetch, e.job_id) for e in entries], workers=MAX_ACTIVE_JOBS
        )
        result = ResumeResult()
        for entry, outcome in zip(entries, outcomes, strict=True):
            result.add(entry.job_id, outcome)
        return result

    def generate_many(
        self,
        items: Iterable[BatchItem],
        *,
        concurrency: int = 5,
        path_template: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        progress: bool = True,
        resume: bool = True,
    ) -> BatchResult:
        """Make a video of each item (a prompt, or a dict of ``prompt`` and parameters),
        ``concurrency`` at a time (the account's five slots cap it).

        Every item is validated before anything is sent. Returns a
        :class:`BatchResult`: the videos in input order, ``None`` and ``errors[i]``
        where one failed (the others go on). Videos are saved by ``path_template``
        (``str.format`` fields ``{index} {seed} {slug} {job_id} {num_frames} {fps}``),
        else in the auto-save folder. Running the same batch again (``resume``) returns
        the saved videos, waits for its unfinished jobs and submits only what never ran.
        ``progress`` shows a bar (a widget in notebooks). Ctrl-C stops waiting; the jobs
        go on and the next run picks them up.
        """
        plan = self._plan(items, concurrency, path_template, resume)
        bar = BatchProgress(len(plan), enabled=progress)

        def run(index: int, cancel: threading.Event) -> Video:
            on_update, on_wait = bar.tracker(index)
            try:
                video = self._drive(
                    self._batch_item(plan, index, timeout, on_update, on_wait), cancel
                )
            except BaseException:
                bar.finish(index, ok=False)
                raise
            bar.finish(index, ok=True)
            return video

        try:
            outcomes = self._parallel(
                [functools.partial(run, index) for index in range(len(plan))],
                workers=concurrency,
            )
        except BaseException:
            bar.close(INTERRUPTED)
            raise
        result = BatchResult.collect(outcomes)
        bar.close(result.summary() if progress else None)
        return result

    def _parallel(
        self, tasks: Sequence[Callable[[threading.Event], T]], *, workers: int
    ) -> list[T | BaseException]:
        """Run ``tasks`` on up to ``workers`` threads; each outcome is its value or what
        it raised, in order. Ctrl-C (or any error here) sets the tasks' cancel event,
        which ends their sleeps and slot waits, and is raised once they have stopped."""
        cancel = threading.Event()
        outcomes: list[T | BaseException] = [InterruptedError("not run")] * len(tasks)
        if not tasks:
            return []
        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, min(workers, len(tasks))), thread_name_prefix="eco_widget"
        )
        try:
            futures = {pool.submit(task, cancel): i for i, task in enumerate(tasks)}
            for future in concurrent.futures.as_completed(futures):
                error = future.exception()
                outcomes[futures[future]] = error if error is not None else future.result()
        except BaseException:
            cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
        return outcomes

    def close(self) -> None:
        """Close the HTTP connections (not those of an ``http_client`` passed in)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

