"""``Client`` and ``AsyncClient``: two thin shells that drive the flows over httpx.

Every decision — retries, polling, resuming a download — is made in :mod:`._flows`;
a shell only performs the steps a flow yields: send, stream, sleep, notify.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, TypeVar

import httpx

from ._config import resolve_settings
from ._flows import Runtime, download_flow, generate_flow, get_flow, submit_flow, wait_flow
from ._models import Job
from ._params import VideoParams
from ._polling import PollPolicy, TimingModel
from ._protocol import Endpoint, Notify, Send, Sleep, Step, Stream, UpdateCallback
from ._retry import RetryPolicy
from ._sinks import FileSink, MemorySink
from ._video import Video, default_filename

__all__ = ["DEFAULT_TIMEOUT", "AsyncClient", "Client"]

T = TypeVar("T")
JobRef = Job | str
PathLike = str | os.PathLike[str]

#: Seconds a wait lasts before :class:`JobTimeoutError` (production jobs take 1–3 min).
DEFAULT_TIMEOUT = 900.0
#: httpx timeouts: connect, then each read/write of a request.
HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def _sink(job: Job, path: PathLike | None) -> MemorySink | FileSink:
    if path is None:
        return MemorySink()
    target = Path(path).expanduser()
    if target.is_dir():
        target = target / default_filename(job)
    return FileSink(target)


def _video(job: Job, result: bytes | Path) -> Video:
    if isinstance(result, Path):
        return Video(job, path=result)
    return Video(job, data=result)


class _Shell:
    """What both shells share: configuration, the flows' runtime and the flows."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        max_retries: int,
        poll_policy: PollPolicy | None,
    ):
        settings = resolve_settings(api_key, base_url)
        self._settings = settings
        policy = poll_policy or settings.poll_policy or PollPolicy()
        self._rt = Runtime(
            endpoint=Endpoint(settings.base_url, settings.api_key),
            retry=RetryPolicy(max_attempts=max_retries + 1),
            timing=TimingModel(policy),
        )

    @property
    def base_url(self) -> str:
        """The API's base URL (the sandbox's loopback URL for ``"sandbox"``)."""
        return self._settings.base_url

    @property
    def account(self) -> str:
        """Who the jobs belong to, without the key: the base URL and a short hash of the
        key (for per-account limits and journals)."""
        import hashlib

        digest = hashlib.sha256((self._settings.api_key or "").encode()).hexdigest()[:12]
        return f"{self.base_url}#{digest}"

    @property
    def is_sandbox(self) -> bool:
        """True when this client talks to the embedded local server."""
        return self._settings.is_sandbox

    @property
    def timing(self) -> TimingModel:
        """What this client has learned of the server's queue and processing times."""
        return self._rt.timing

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # Flows, built from the public methods' arguments (validation happens here, before
    # anything is sent).
    def _submit(self, prompt: str, **params: Any) -> Generator[Step, Any, Job]:
        return submit_flow(self._rt, VideoParams.create(prompt, **params))

    def _get(self, job_id: JobRef) -> Generator[Step, Any, Job]:
        if isinstance(job_id, Job):
            return get_flow(self._rt, job_id.id, job_id.params)
        return get_flow(self._rt, job_id)

    def _wait(
        self, job: JobRef, timeout: float, on_update: UpdateCallback | None
    ) -> Generator[Step, Any, Job]:
        if isinstance(job, str):
            job = yield from get_flow(self._rt, job)
        return (yield from wait_flow(self._rt, job, timeout=timeout, on_update=on_update))

    def _download(self, job: JobRef, path: PathLike | None) -> Generator[Step, Any, bytes | Path]:
        if isinstance(job, str):
            job = yield from get_flow(self._rt, job)
        _, result = yield from download_flow(self._rt, job, lambda job: _sink(job, path))
        return result

    def _generate(
        self,
        prompt: str,
        path: PathLike | None,
        timeout: float,
        on_update: UpdateCallback | None,
        **params: Any,
    ) -> Generator[Step, Any, Video]:
        job, result = yield from generate_flow(
            self._rt,
            VideoParams.create(prompt, **params),
            lambda job: _sink(job, path),
            timeout=timeout,
            on_update=on_update,
        )
        return _video(job, result)


class Client(_Shell):
    """The Ecohash video API, blocking.

    >>> with Client(base_url="sandbox") as client:          # doctest: +SKIP
    ...     video = client.generate("a red balloon over a mountain at dawn")
    ...     video.save("balloon.mp4")

    ``api_key`` defaults to ``ECOHASH_API_KEY``; ``base_url`` to ``ECOHASH_BASE_URL``,
    then ``https://api.ecohash.com``; ``"sandbox"`` runs the local server in this
    process. Reads are retried ``max_retries`` times; a submit only when the connection
    could not be opened. Pass ``http_client`` (not closed by this client) or
    ``transport`` to control the HTTP layer.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        max_retries: int = 4,
        poll_policy: PollPolicy | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = HTTP_TIMEOUT,
    ):
        super().__init__(api_key, base_url, max_retries, poll_policy)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(transport=transport, timeout=timeout)

    # -- the driver ---------------------------------------------------------------------
    def _drive(self, flow: Generator[Step, Any, T]) -> T:
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
                    reply = self._perform(step)
                except BaseException as exc:  # thrown into the flow: it decides
                    error = exc
        finally:
            flow.close()

    def _perform(self, step: Step) -> Any:
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
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
            step.callback(step.job)
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
    ) -> Job:
        """Submit a job and return its first snapshot (``queued``).

        Parameters are validated first (:class:`InvalidParameterError`, nothing sent).
        With no ``seed`` one is drawn and sent, so ``job.seed`` is always known.
        """
        return self._drive(
            self._submit(
                prompt,
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
        :class:`JobTimeoutError` is raised with the last snapshot; the job goes on.
        """
        return self._drive(self._wait(job, timeout, on_update))

    def download(self, job: JobRef, path: PathLike | None = None) -> bytes | Path:
        """A completed job's MP4: its bytes, or — with ``path`` (a file, or a directory
        to name it in) — streamed to disk atomically and the path returned."""
        return self._drive(self._download(job, path))

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
    ) -> Video:
        """Submit, wait and download: the finished :class:`Video` (saved to ``path`` when
        given). Raises :class:`JobFailedError` when the job fails."""
        return self._drive(
            self._generate(
                prompt,
                path,
                timeout,
                on_update,
                num_frames=num_frames,
                fps=fps,
                num_inference_steps=num_inference_steps,
                guidance_scale=guidance_scale,
                seed=seed,
            )
        )

    def close(self) -> None:
        """Close the HTTP connections (not those of an ``http_client`` passed in)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(_Shell):
    """The Ecohash video API for ``asyncio`` code; the same methods as :class:`Client`,
    awaited. ``on_update`` may be a plain function or a coroutine function."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        max_retries: int = 4,
        poll_policy: PollPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = HTTP_TIMEOUT,
    ):
        super().__init__(api_key, base_url, max_retries, poll_policy)
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
            result = step.callback(step.job)
            if inspect.isawaitable(result):
                await result
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
    ) -> Job:
        """Submit a job and return its first snapshot; see :meth:`Client.submit`."""
        return await self._drive(
            self._submit(
                prompt,
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
    ) -> Video:
        """Submit, wait and download; see :meth:`Client.generate`."""
        return await self._drive(
            self._generate(
                prompt,
                path,
                timeout,
                on_update,
                num_frames=num_frames,
                fps=fps,
                num_inference_steps=num_inference_steps,
                guidance_scale=guidance_scale,
                seed=seed,
            )
        )

    async def aclose(self) -> None:
        """Close the HTTP connections (not those of an ``http_client`` passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
