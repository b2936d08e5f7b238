"""``VideoWidget``: the prompt form, live job status and inline videos in a notebook.

The widget's traits are small JSON (the form's values, the runs' states); the MP4 travels
only when a view asks for it, as a binary buffer. A click reaches Python as a custom
message; each generation runs as an asyncio task on the kernel's running loop, so the
kernel stays free while a video renders. The API key is never a trait.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anywidget
import traitlets

from .._async_client import AsyncClient
from .._config import BASE_URL_ENV, DEFAULT_BASE_URL, SANDBOX
from .._exceptions import EcoVideoError, InvalidParameterError
from .._journal import JournalEntry
from .._params import PARAMETERS, VideoParams
from .._shell import DEFAULT_TIMEOUT
from .._slots import MAX_ACTIVE_JOBS
from .._video import Video
from ._form import FORM_FIELDS, check_options, form_limits, unknown_options
from ._home_loop import HomeLoop
from ._loop_wait import loop_running
from ._pending import pending_entries, pending_offer
from ._requests import FrontEndRequests
from ._run import FOLLOWED, RESUMING, Run, drive_run, follow_job

__all__ = ["VideoWidget"]

_STATIC = Path(__file__).parent / "static"
#: Why a client could not be made when the widget was built (shown when a job starts).
_CLIENT_PROBLEMS = (EcoVideoError, ImportError, ValueError, OSError)
#: At most this many trait updates per second reach the front end.
_UPDATES_PER_SECOND = 4.0


class VideoWidget(FrontEndRequests, anywidget.AnyWidget):
    """A form that makes videos, with live status and the results playing inline.

    >>> w = VideoWidget(prompt="a red balloon over a mountain at dawn", seed=1234)
    >>> w                      # shows the form; press Generate, or:
    >>> w.generate()
    >>> video = await w        # or w.wait() in a synchronous cell

    ``client`` is an :class:`AsyncClient` (default: one made from ``ECOHASH_API_KEY`` and
    ``ECOHASH_BASE_URL`` on first use; ``base_url="sandbox"`` for the local sandbox).
    Every finished video is saved under the data folder (``ECOHASH_HOME``) as soon as it
    is downloaded.

    A job submitted earlier is shown with :meth:`from_job` (or :meth:`attach`). A new
    widget offers the jobs that an earlier session (a kernel since restarted) left
    unfinished: ``pending`` lists them, and the banner's Resume button, or
    :meth:`resume`, follows them all to their videos.
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"
    # ipywidgets 7 displays a widget through `_ipython_display_`, which IPython prefers to
    # `_repr_mimebundle_` (its text is cut at 110 characters); without it, IPython takes
    # anywidget's bundle with our full `__repr__`, as with ipywidgets 8.
    _ipython_display_ = None

    prompt = traitlets.Unicode("").tag(sync=True)
    num_frames = traitlets.Int(33).tag(sync=True)
    fps = traitlets.Int(16).tag(sync=True)
    num_inference_steps = traitlets.Int(50).tag(sync=True)
    guidance_scale = traitlets.Float(5.0).tag(sync=True)
    seed = traitlets.Int(None, allow_none=True).tag(sync=True)
    limits = traitlets.Dict().tag(sync=True)
    form_error = traitlets.Dict(None, allow_none=True).tag(sync=True)
    runs = traitlets.List(traitlets.Dict()).tag(sync=True)
    backend = traitlets.Unicode("").tag(sync=True)
    max_active = traitlets.Int(MAX_ACTIVE_JOBS).tag(sync=True)
    pending = traitlets.List(traitlets.Dict()).tag(sync=True)
    mode = traitlets.Unicode("form").tag(sync=True)

    def __init__(
        self,
        prompt: str = "",
        *,
        num_frames: int = 33,
        fps: int = 16,
        num_inference_steps: int = 50,
        guidance_scale: float = 5.0,
        seed: int | None = None,
        client: AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        **unknown: Any,
    ):
        values = dict(
            num_frames=num_frames,
            fps=fps,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            seed=seed,
        )
        check_options(type(self).__name__, prompt, values, client, unknown)
        self._home = HomeLoop()  # before the comm opens: messages may come at once
        super().__init__(
            prompt=prompt,
            num_frames=num_frames,
            fps=fps,
            num_inference_steps=num_inference_steps,
            guidance_scale=float(guidance_scale),
            seed=seed,
            limits=form_limits(),
            backend=_backend_label(client),
        )
        self._client = client
        self._timeout = timeout
        self._runs: list[Run] = []
        self._runs_lock = threading.Lock()
        self._count = 0
        self._last_publish = 0.0
        self._publish_pending: asyncio.TimerHandle | None = None
        self._video_callbacks: list[Callable[[Video], None]] = []
        self._client_problem: str | None = None
        self.on_msg(self._on_message)
        client = self._try_client()
        if client is not None:
            self.pending = pending_offer(pending_entries(client))

    @classmethod
    def from_job(
        cls, job_id: str, *, client: AsyncClient | None = None, **kwargs: Any
    ) -> VideoWidget:
        """A widget showing a job submitted earlier, running or done: its phases and
        progress from its current status on, then the video, saved like any other.

        The parameters and seed come from the job journal when it has the job, else from
        the server's answer; they fill the form unless ``kwargs`` set it. A failed,
        expired or unknown job shows its error in the run. ``await`` the widget for the
        :class:`Video`::

            w = VideoWidget.from_job("vid_0123456789abcdef01234567")
            video = await w
        """
        widget = cls(client=client, **kwargs)
        run = widget._attach(job_id, widget._journal_entry(job_id))
        if run.params is not None and not set(kwargs) & set(FORM_FIELDS):
            widget._home.call(widget._fill_form, run.params)
        return widget

    # -- what people call (from any thread: the work is handed to the home loop) -----------
    def generate(self, prompt: str | None = None, **params: Any) -> VideoWidget:
        """Start a generation from Python with the form's values (overridden by the
        arguments, which are also put in the form). Returns the widget, so
        ``await w.generate()`` gives the :class:`Video`.

        Raises :class:`InvalidParameterError` for bad values (the form shows it too),
        before anything is sent. May be called from any thread or event loop: the job
        runs on the widget's home loop (where it was made).
        """
        unknown = {name: value for name, value in params.items() if name not in PARAMETERS}
        if unknown:
            raise unknown_options(type(self).__name__, unknown)
        values = self._form_values()
        if prompt is not None:
            values["prompt"] = prompt
        values.update(params)
        self._start(values)
        return self

    def attach(self, job_id: str) -> VideoWidget:
        """Follow a job submitted earlier (by id) as a new run of this widget, like
        :meth:`from_job`. Returns the widget, so ``await w.attach(job_id)`` gives the
        :class:`Video`."""
        self._attach(job_id, self._journal_entry(job_id))
        return self

    def resume(self) -> list[asyncio.Future[Video]]:
        """Follow every job an earlier session left unfinished (``pending``) as a run of
        this widget, and withdraw the offer. Returns the runs' futures (of the event
        loop this is called on), oldest job first:
        ``videos = await asyncio.gather(*w.resume())``. Failed, expired or unknown jobs
        show their error in their run.

        From a thread that runs no event loop, follow the runs with :meth:`wait`,
        :attr:`videos` or :meth:`on_video` instead: this raises :class:`RuntimeError`.
        """
        if not self._home.here() and not loop_running():
            raise RuntimeError(
                "resume() returns futures of the calling event loop, and this thread runs "
                "none: call it from the notebook (or a coroutine)"
            )
        client = self._try_client()
        entries = pending_entries(client) if client is not None else []
        runs = self._resume_entries(entries)
        if self._home.here():
            return [run.task for run in runs if run.task is not None]
        return [asyncio.wrap_future(run.outcome) for run in runs]

    async def result(self) -> Video:
        """The latest generation's :class:`Video`, once it is done (raises what stopped
        it: :class:`JobFailedError`, :class:`APIError`, …). Works on any event loop."""
        return await self._home.wait(self._latest_run().outcome)

    def __await__(self) -> Generator[Any, None, Video]:
        return self.result().__await__()

    def wait(self, timeout: float | None = None) -> Video:
        """Block until the latest generation is done and return its :class:`Video`.

        Works in a synchronous notebook cell: the kernel's loop is re-entered (with
        ``nest_asyncio2``, applied to that loop only) so the job's task runs meanwhile;
        and from any other thread. ``timeout`` (seconds) raises :class:`TimeoutError`;
        the job goes on. An interrupt (Ctrl-C, the kernel's stop button) stops the
        waiting, not the job.
        """
        return self._home.block_on(self._latest_run().outcome, timeout)

    def on_video(self, callback: Callable[[Video], None]) -> None:
        """Call ``callback(video)`` each time a generation of this widget finishes (after
        the video is saved in the data folder), on the widget's home loop."""
        self._video_callbacks.append(callback)

    def stop(self) -> None:
        """Stop waiting for every running generation (their jobs go on on the server)."""
        self._home.call(self._stop_runs, list(self._runs))

    @property
    def video(self) -> Video | None:
        """The latest finished :class:`Video`, or None."""
        videos = self.videos
        return videos[-1] if videos else None

    @property
    def videos(self) -> list[Video]:
        """Every finished :class:`Video` of this widget, oldest first."""
        return [run.video for run in list(self._runs) if run.video is not None]

    @property
    def status(self) -> str:
        """The latest generation's phase (``"idle"`` before the first)."""
        return self._runs[-1].phase if self._runs else "idle"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the latest video to ``path`` (a file, or a directory to put it in)."""
        video = self.video
        if video is None:
            raise RuntimeError("no finished video yet: press Generate or call w.generate()")
        return video.save(path)

    def __repr__(self) -> str:
        prompt = self.prompt if len(self.prompt) <= 40 else self.prompt[:39] + "…"
        return (
            f"{type(self).__name__}(prompt={prompt!r}, runs={len(self._runs)}, "
            f"videos={len(self.videos)}, status={self.status!r})"
        )

    # -- running generations ------------------------------------------------------------
    def _form_values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FORM_FIELDS}

    def _start(self, values: dict[str, Any]) -> Run:
        """Check ``values`` (here, at once) and start a run with them on the home loop."""
        try:
            params = VideoParams.create(values.pop("prompt"), **values).with_seed()
        except InvalidParameterError as exc:
            self._home.call(
                self.set_trait, "form_error", {"param": exc.param, "message": exc.message}
            )
            raise
        run = self._new_run(params)
        self._home.call(self._begin_form_run, run)
        return run

    def _begin_form_run(self, run: Run) -> None:
        self.set_trait("form_error", None)
        assert run.params is not None
        self._fill_form(run.params)
        self._begin(run, drive_run)

    def _fill_form(self, params: VideoParams) -> None:
        self.set_trait("prompt", params.prompt)
        for name in PARAMETERS:
            if name != "seed":
                self.set_trait(name, getattr(params, name))

    def _new_run(self, params: VideoParams | None, attached: str | None = None) -> Run:
        with self._runs_lock:
            self._count += 1
            run = Run(key=f"r{self._count}", params=params, attached=attached)
            if attached is not None:
                run.set_phase(RESUMING)
            self._runs.append(run)
        return run

    def _attach(self, job_id: str, entry: JournalEntry | None) -> Run:
        job_id = _job_id(job_id)
        run = self._new_run(entry.params if entry else None, attached=job_id)
        if entry is not None:  # the clock starts when the job was submitted
            run.started_wall = entry.submitted_at
            run.started = time.monotonic() - max(0.0, time.time() - entry.submitted_at)
        self._home.call(self._begin, run, follow_job)
        return run

    def _resume_entries(self, entries: list[JournalEntry]) -> list[Run]:
        """Follow ``entries`` (an earlier session's jobs) as runs; withdraw the offer."""
        self._home.call(self.set_trait, "pending", [])
        return [self._attach(e.job_id, e) for e in entries if e.job_id not in FOLLOWED]

    def _journal_entry(self, job_id: str) -> JournalEntry | None:
        client = self._try_client()
        if client is None or client.journal is None:
            return None
        try:
            return client.journal.get(client._settings.origin, _job_id(job_id))
        except EcoVideoError:  # a damaged journal: the server's answer will do
            return None

    def _begin(self, run: Run, follow: Callable[..., Any]) -> None:
        """Start ``run``'s task (on the home loop)."""
        task = self._home.loop.create_task(self._drive(run, follow), name=f"eco_widget {run.key}")
        run.task = task
        task.add_done_callback(lambda task: self._settle(run, task))
        self._publish(now=True)

    def _settle(self, run: Run, task: asyncio.Task[Video]) -> None:
        """The run's task is done: record how (even one that never started, or ended by
        an exception nobody expected), tell waiters and ``on_video`` callbacks."""
        active = run.active
        run.settle(task)
        if active:
            self._publish(now=True)
        if run.video is not None:
            for callback in self._video_callbacks:
                callback(run.video)

    def _stop_runs(self, runs: list[Run]) -> None:
        for run in runs:
            if run.active and run.task is not None:
                run.task.cancel()

    async def _drive(self, run: Run, follow: Callable[..., Any]) -> Video:
        try:
            client = self._ensure_client()
        except EcoVideoError as exc:
            run.fail(exc)
            self._publish(now=True)
            raise
        return await follow(run, client, self._publish, timeout=self._timeout)

    def _ensure_client(self) -> AsyncClient:
        if self._client is None:
            self._client = AsyncClient()
            self._home.call(self.set_trait, "backend", _backend_label(self._client))
        return self._client

    def _try_client(self) -> AsyncClient | None:
        """The client, made now if need be; None (and the reason kept) when it cannot be
        made: a missing key must not stop the widget from showing."""
        try:
            return self._ensure_client()
        except _CLIENT_PROBLEMS as exc:
            self._client_problem = str(exc)
            return None

    def _latest_run(self) -> Run:
        if not self._runs:
            raise RuntimeError("nothing generated yet: press Generate or call w.generate()")
        return self._runs[-1]

    def _run(self, key: Any) -> Run | None:
        return next((run for run in self._runs if run.key == key), None)

    def _publish(self, *, now: bool = False) -> None:
        """Send the runs to the front end (on the home loop), at most a few times a
        second; the last state always goes out."""
        if self._publish_pending is not None and not now:
            return
        wait = self._last_publish + 1.0 / _UPDATES_PER_SECOND - time.monotonic()
        loop = self._home.loop
        if now or wait <= 0 or not loop.is_running():
            if self._publish_pending is not None:
                self._publish_pending.cancel()
                self._publish_pending = None
            self._last_publish = time.monotonic()
            self.runs = [run.to_json() for run in reversed(self._runs)]
            return
        self._publish_pending = loop.call_later(wait, self._flush)

    def _flush(self) -> None:
        self._publish_pending = None
        self._publish(now=True)


def _job_id(job_id: Any) -> str:
    if not isinstance(job_id, str) or not job_id.strip():
        raise InvalidParameterError("job_id", job_id, "a job id such as 'vid_abc123'")
    return job_id.strip()


#: How the widget's footer names the local Wan2.1 engine.
LOCAL_LABEL = "local Wan2.1"


def _backend_label(client: AsyncClient | None) -> str:
    """Where jobs go, in a word, without starting anything or showing any key."""
    if client is not None:
        if client.is_sandbox:
            return SANDBOX
        if client.account.startswith("local:"):
            return LOCAL_LABEL
        return urlsplit(client.base_url).hostname or ""
    base = (os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).strip()
    if base.lower() in (SANDBOX, "local"):
        return SANDBOX if base.lower() == SANDBOX else LOCAL_LABEL
    return urlsplit(base).hostname or base
