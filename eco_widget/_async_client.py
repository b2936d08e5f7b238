"""``AsyncClient``: the asyncio shell over httpx; the same flows as :class:`Client`."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from ._batch import BatchItem, BatchProgress, BatchResult
from ._client import DEFAULT_TIMEOUT, HTTP_TIMEOUT, batch_result, interrupted, tracker
from ._journal import Journal
from ._models import Job
from ._polling import PollPolicy
from ._protocol import (
    Acquire,
    Lookup,
    Notify,
    Record,
    Send,
    Sleep,
    Step,
    Stream,
    UpdateCallback,
    WaitCallback,
)
from ._recovery import ResumeResult
from ._shell import JobRef, PathLike, Shell
from ._video import Video

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(Shell):
    """The Ecohash video API for ``asyncio`` code; the same methods as :class:`Client`,
    awaited. ``on_update`` and ``on_wait`` may be plain or coroutine functions."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        max_retries: int = 4,
        poll_policy: PollPolicy | None = None,
        autosave: bool | PathLike = True,
        journal: bool | Journal = True,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = HTTP_TIMEOUT,
    ):
        super().__init__(api_key, base_url, max_retries, poll_policy, autosave, journal)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(transport=transport, timeout=timeout)

    # -- the driver ---------------------------------------------------------------------
    async def _drive(self, flow: Generator[Step, Any, T]) -> T:
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
                    reply = await self._perform(step)
                except BaseException as exc:  # thrown into the flow: it decides
                    error = exc
        finally:
            flow.close()

    async def _perform(self, step: Step) -> Any:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, Send):
            return await self._http.send(step.request)
        elif isinstance(step, Stream):
            response = await self._http.send(step.request, stream=True, follow_redirects=True)
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
        elif isinstance(step, (Record, Lookup)):
            return self._local(step)
        elif isinstance(step, Acquire):
            return await step.limiter.acquire_async()
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
        on_wait: WaitCallback | None = None,
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
        on_update: UpdateCallback | None = None,
    ) -> Job:
        """Poll until the job is terminal; see :meth:`Client.wait`."""
        return await self._drive(self._wait(job, timeout, on_update))

    async def download(self, job: JobRef, path: PathLike | None = None) -> bytes | Path:
        """A completed job's MP4 as bytes or a saved path; see :meth:`Client.download`."""
        return await self._drive(self._download(job, path))

    async def result(
        self,
        job: JobRef,
        *,
        path: PathLike | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        on_update: UpdateCallback | None = None,
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
        on_update: UpdateCallback | None = None,
        on_wait: WaitCallback | None = None,
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
        self, *, timeout: float = DEFAULT_TIMEOUT, on_update: UpdateCallback | None = None
    ) -> ResumeResult:
        """Recover the account's unfinished jobs, all at once; see :meth:`Client.resume`."""
        entries = self._unfinished()
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
        plan = self._plan(items, concurrency, path_template, resume)
        bar = BatchProgress(len(plan), enabled=progress)
        gate = asyncio.Semaphore(concurrency)

        async def run(index: int) -> Video:
            on_update, on_wait = tracker(bar, index)
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
            bar.close(interrupted())
            raise
        result = batch_result(plan, dict(enumerate(outcomes)))
        bar.close(result.summary() if progress else None)
        return result

    async def aclose(self) -> None:
        """Close the HTTP connections (not those of an ``http_client`` passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
