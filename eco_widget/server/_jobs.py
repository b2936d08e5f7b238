"""The job lifecycle, on the server's event loop.

Each job waits its planned queue time, then is ``processing``: its render runs in a
worker thread (one render at a time per server) while the profile's processing timer
runs; it completes when both are done (the video file is written first, then the status
committed). A render that raises marks the job ``failed`` with a ``generation_error``;
the server goes on.

A runner registers itself in the store's ``servers`` table, beats every few seconds,
and on start and on each beat claims the jobs of servers that are gone, so no job
stays queued forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from .._params import VideoParams
from ._records import JobRecord
from ._renderer import Renderer
from ._store import JobStore
from ._timing import TimingPlanner

__all__ = ["JobRunner"]

logger = logging.getLogger("eco_widget.server")

HEARTBEAT_SECONDS = 5.0
_PROGRESS_CAP = 0.999


class JobRunner:
    """Runs the jobs this server owns. ``start``/``stop`` bracket the server's life."""

    def __init__(self, store: JobStore, renderer: Renderer, planner: TimingPlanner) -> None:
        self.store = store
        self.renderer = renderer
        self.planner = planner
        self.token = secrets.token_hex(8)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._render_progress: dict[str, float] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._render_slot: asyncio.Semaphore | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eco-render")
        self._render_slot = asyncio.Semaphore(1)
        self.store.register_server(self.token, time.time())
        self._resume_orphans()
        self._heartbeat = asyncio.create_task(self._beat(), name="eco-heartbeat")

    async def stop(self) -> None:
        """Cancel every job task and mark this server stopped: its unfinished jobs are
        claimed and resumed by the next server on this data directory."""
        tasks = [*self._tasks.values()]
        if self._heartbeat is not None:
            tasks.append(self._heartbeat)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._executor is not None:
            # A render already running cannot be interrupted; its result is dropped.
            self._executor.shutdown(wait=False, cancel_futures=True)
        self.store.server_stopped(self.token, time.time())

    def submit(self, key_hash: str, params: VideoParams, max_active: int) -> JobRecord:
        """Create a queued job and schedule it. Raises ``TooManyActiveJobs``."""
        plan = self.planner.plan(params)
        record = self.store.create_job(
            key_hash, params, plan, owner=self.token, max_active=max_active, now=time.time()
        )
        self._schedule(record.id)
        return record

    def progress(self, record: JobRecord, now: float) -> float | None:
        """The progress of a processing job: the share of its planned processing time
        spent, never ahead of its render's own progress, below 1 until it completes."""
        if record.status != "processing" or record.started_at is None:
            return None
        if record.processing_seconds > 0:
            by_time = (now - record.started_at) / record.processing_seconds
        else:
            by_time = 1.0
        # A job rendered by another server: only the clock is known here.
        mine = record.owner == self.token
        by_render = self._render_progress.get(record.id, 0.0) if mine else 1.0
        value = max(0.0, min(by_time, by_render, _PROGRESS_CAP))
        return math.floor(value * 1000) / 1000

    # -- internals ------------------------------------------------------------------

    def _schedule(self, job_id: str) -> None:
        if job_id in self._tasks:
            return
        task = asyncio.create_task(self._run(job_id), name=f"eco-job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._forget(job_id))

    def _forget(self, job_id: str) -> None:
        self._tasks.pop(job_id, None)
        self._render_progress.pop(job_id, None)

    def _resume_orphans(self) -> None:
        for record in self.store.claim_orphans(self.token, time.time()):
            logger.info("resuming job %s (%s) left by a stopped server", record.id, record.status)
            self._schedule(record.id)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                self.store.heartbeat(self.token, time.time())
                self._resume_orphans()
            except Exception:  # a busy database must not stop the heartbeat
                logger.exception("heartbeat failed")

    async def _run(self, job_id: str) -> None:
        try:
            await self._lifecycle(job_id)
        except Exception as exc:  # the store failed (disk full, …): the job must not hang
            if isinstance(exc, RuntimeError) and "interpreter shutdown" in str(exc):
                # The process is exiting (an embedded sandbox): the next server on this
                # data directory claims the job and runs it.
                logger.info("job %s: left for the next server (the process exits)", job_id)
                return
            logger.exception("job %s: could not be completed", job_id)
            with contextlib.suppress(Exception):
                self._fail(job_id, f"The server could not store the video: {exc}")

    async def _lifecycle(self, job_id: str) -> None:
        record = self.store.get(job_id)
        if record is None or record.owner != self.token:
            return
        if record.params is None:
            self._fail(
                job_id,
                "The job cannot be run: its stored parameters are unreadable "
                f"({record.params_error}).",
            )
            return
        if record.status == "queued":
            await asyncio.sleep(max(0.0, record.created + record.queue_seconds - time.time()))
        # Processing (re)starts now, also for a job resumed after a restart.
        if not self.store.start_processing(job_id, self.token, time.time()):
            return
        timer = asyncio.ensure_future(asyncio.sleep(record.processing_seconds))
        try:
            try:
                video = await self._render(job_id, record.params)
            except Exception as exc:
                logger.warning("job %s: render failed: %r", job_id, exc)
                self._fail(job_id, f"The video could not be generated: {exc}")
                return
            await timer
        finally:
            timer.cancel()
        await asyncio.to_thread(self.store.write_video, job_id, video)
        self.store.complete(job_id, self.token, time.time())

    async def _render(self, job_id: str, params: VideoParams) -> bytes:
        assert self._render_slot is not None
        assert self._executor is not None
        progress = self._render_progress

        def report(fraction: float) -> None:
            if isinstance(fraction, (int, float)) and math.isfinite(fraction):
                progress[job_id] = max(progress.get(job_id, 0.0), min(1.0, float(fraction)))

        async with self._render_slot:
            loop = asyncio.get_running_loop()
            video = await loop.run_in_executor(self._executor, self.renderer.render, params, report)
        if not isinstance(video, (bytes, bytearray, memoryview)) or not len(video):
            raise TypeError(f"the renderer returned {type(video).__name__}, not MP4 bytes")
        return bytes(video)

    def _fail(self, job_id: str, message: str) -> None:
        error = {"type": "generation_error", "message": message}
        self.store.fail(job_id, self.token, error, time.time())
