"""``AsyncClient``: the asyncio shell over httpx; the same flows as :class:`Client`."""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import weakref
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from typing import Any, TypeVar, assert_never, overload

import httpx

from ._batch import BatchItem, BatchResult
from ._batch_progress import INTERRUPTED, BatchProgress
from ._journal import Journal
from ._models import Job
from ._polling import PollPolicy
from ._protocol import (
    Acquire,
    AsyncUpdateCallback,
    AsyncWaitCallback,
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
)
from ._recovery import ResumeResult
from ._shell import DEFAULT_TIMEOUT, HTTP_TIMEOUT, JobRef, PathLike, Shell
from ._sinks import DEFAULT_MAX_VIDEO_BYTES
from ._slots import no_slot
from ._video import Video

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(Shell):
    """The Ecohash video API for ``asyncio`` code; the same methods as :class:`Client`,
    awaited. ``on_update`` and ``on_wait`` may be plain or coroutine functions.

    The event loop never waits on a disk: journal reads and writes, making the file a
    video streams into, its fsync and rename, and reading a saved video happen in
    worker threads.

    One client may be used from several event loops (threads, or one ``asyncio.run``
    after another): each loop gets its own connection pool. An ``http_client`` or
    ``transport`` passed in belongs to the loop that first uses it; using it from
    another loop raises :class:`RuntimeError` before anything is sent.
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
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = HTTP_TIMEOUT,
    ):
        super().__init__(
            api_key, base_url, max_retries, poll_policy, autosave, journal, max_video_bytes
        )
        self._owns_http = http_client is None and transport is None
        self._pools = _LoopPools(
            http_client or httpx.AsyncClient(transport=transport, timeout=timeout),
            (lambda: httpx.AsyncClient(timeout=timeout)) if self._owns_http else None,
        )
        self._closes_given = http_client is None

    # -- the driver ---------------------------------------------------------------------
    async def _drive(self, flow: Generator[Step, Any, T]) -> T:
        http = self._pools.for_running_loop()  # before anything is sent
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
                    reply = await self._perform(step, http)
                except BaseException as exc:  # thrown into the flow: it decides
                    error = exc
        finally:
            flow.close()

    async def _perform(self, step: Step, http: httpx.AsyncClient) -> Any:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, Send):
            return await http.send(step.request)
        elif isinstance(step, Stream):
            response = await http.send(step.request, stream=True, follow_redirects=True)
            try:
                if step.sink.accept(response):
                    async for chunk in response.aiter_bytes():
                        step.sink.write(chunk)
                else:
                    await response.aread()
            finally:
                await response.aclose()
            return response
        elif isinstance(step, Notify):
            result = step.callback(step.value)
            if inspect.isawaitable(result):
                await result
        elif isinstance(step, Reserve):
            return await _finish_in_thread(
                functools.partial(self._local, step),
                undo=lambda reservation: self._local(Unreserve(reservation)),
            )
        elif isinstance(step, (Unreserve, Record, Lookup)):
            return await asyncio.to_thread(self._local, step)
        elif isinstance(step, (CheckTarget, OpenSink, ResetSink, CloseSink)):
            return await asyncio.to_thread(self._sink_step, step)
        elif isinstance(step, Blocking):
            return await asyncio.to_thread(step.function)
        elif isinstance(step, Acquire):
            try:
                return await asyncio.wait_for(step.limiter.acquire_async(), step.timeout)
            except TimeoutError:
                raise no_slot(step.timeout) from None
        else:
            assert_never(step)
        return None

    # -- the API ------------------------------------------------------------------------
    async def submit(
        self,
        prompt: str,
        *,
        num_frames: int = 33,
        fps: int = 16,
        num_inference_steps: int = 50,
        guidance_scale: float = 5.0,
        seed: int | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        on_wait: AsyncWaitCallback | None = None,
    ) -> Job:
        """Submit a job and return its first snapshot; see :meth:`Client.submit`."""
        return await self._drive(
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

    async def get(self, job_id: JobRef) -> Job:
        """Read a job's current snapshot."""
        return await self._drive(self._get(job_id))

    async def wait(
        self,
        job: JobRef,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        on_update: AsyncUpdateCallback | None = None,
    ) -> Job:
        """Poll until the job is terminal; see :meth:`Client.wait`."""
        return await self._drive(self._wait(job, timeout, on_update))

    @overload
    async def download(self, job: JobRef, path: None = None) -> bytes: ...
    @overload
    async def download(self, job: JobRef, path: PathLike) -> Path: ...
    async def download(self, job: JobRef, path: PathLike | None = None) -> bytes | Path:
        """A completed job's MP4 as bytes or a saved path; see :meth:`Client.download`."""
        return await self._drive(self._download(job, path))

    async def result(
        self,
        job: JobRef,
        *,
        path: PathLike | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        on_update: AsyncUpdateCallback | None = None,
    ) -> Video:
        """The video of a job submitted earlier; see :meth:`Client.result`."""
        return await self._drive(self._fetch(job, path, timeout, on_update))

    async def generate(
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
        on_update: AsyncUpdateCallback | None = None,
        on_wait: AsyncWaitCallback | None = None,
    ) -> Video:
        """Submit, wait and download; see :meth:`Client.generate`."""
        return await self._drive(
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

    async def resume(
        self, *, timeout: float = DEFAULT_TIMEOUT, on_update: AsyncUpdateCallback | None = None
    ) -> ResumeResult:
        """Recover the account's unfinished jobs, all at once; see :meth:`Client.resume`."""
        entries = await asyncio.to_thread(self._unfinished)
        outcomes = await asyncio.gather(
            *(self._drive(self._fetch(e.job_id, None, timeout, on_update)) for e in entries),
            return_exceptions=True,
        )
        result = ResumeResult()
        for entry, outcome in zip(entries, outcomes, strict=True):
            result.add(entry.job_id, outcome)
        return result

    async def generate_many(
        self,
        items: Iterable[BatchItem],
        *,
        concurrency: int = 5,
        path_template: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        progress: bool = True,
        resume: bool = True,
    ) -> BatchResult:
        """Make a video of each item; see :meth:`Client.generate_many`. Cancelling the
        task stops waiting; the jobs go on and the next run picks them up."""
        plan = await asyncio.to_thread(self._plan, items, concurrency, path_template, resume)
        bar = BatchProgress(len(plan), enabled=progress)
        gate = asyncio.Semaphore(concurrency)

        async def run(index: int) -> Video:
            on_update, on_wait = bar.tracker(index)
            async with gate:
                try:
                    video = await self._drive(
                        self._batch_item(plan, index, timeout, on_update, on_wait)
                    )
                except BaseException:
                    bar.finish(index, ok=False)
                    raise
            bar.finish(index, ok=True)
            return video

        try:
            outcomes = await asyncio.gather(
                *(run(index) for index in range(len(plan))), return_exceptions=True
            )
        except BaseException:
            bar.close(INTERRUPTED)
            raise
        result = BatchResult.collect(outcomes)
        bar.close(result.summary() if progress else None)
        return result

    async def aclose(self) -> None:
        """Close this event loop's HTTP connections (not those of an ``http_client``
        passed in)."""
        await self._pools.aclose(given=self._closes_given)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def _finish_in_thread(function: Callable[[], T], undo: Callable[[T], Any]) -> T:
    """``function()`` in a worker thread. Cancelled meanwhile, the call still ends (a
    thread cannot be stopped): its effect is then undone with ``undo(result)``, also off
    the loop, before the cancellation goes on."""
    future = asyncio.ensure_future(asyncio.to_thread(function))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        try:
            result = await future
        except Exception:
            raise asyncio.CancelledError from None
        await asyncio.to_thread(undo, result)
        raise


class _LoopPools:
    """The HTTP client of each event loop that uses an :class:`AsyncClient`.

    httpx's connection pool belongs to the loop it was first used on. The first loop
    gets ``first``; with a ``factory`` (the client owns its HTTP layer) each other loop
    gets a client of its own, else using ``first`` from another loop is refused before
    any request (a half-sent submission could bill a job and lose it).
    """

    def __init__(self, first: httpx.AsyncClient, factory: Callable[[], httpx.AsyncClient] | None):
        self._first = first
        self._factory = factory
        self._home: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._others: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]
        self._others = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def for_running_loop(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        with self._lock:
            home = self._home() if self._home is not None else None
            if home is None or home.is_closed():
                if home is not None and self._factory is not None:
                    self._first = self._factory()  # the first loop is gone: start afresh
                self._home = weakref.ref(loop)
                return self._first
            if home is loop:
                return self._first
            if self._factory is None:
                raise RuntimeError(
                    "this AsyncClient's http_client or transport belongs to the event loop "
                    "that first used it, which is another one (another thread, or an "
                    "earlier asyncio.run): call it from that loop, or give each loop its "
                    "own AsyncClient. Nothing was sent."
                )
            http = self._others.get(loop)
            if http is None:
                http = self._others[loop] = self._factory()
            return http

    async def aclose(self, *, given: bool) -> None:
        """Close the running loop's client (the first one only when it was made here
        or ``given`` is true)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            home = self._home() if self._home is not None else None
            http = self._others.pop(loop, None)
            if http is None and (home is None or home is loop) and given:
                http = self._first
        if http is not None:
            await http.aclose()
