"""How ``ecovideo`` shows progress on stderr.

``generate``: on a terminal a tqdm bar whose description is the phase (queued,
processing, downloading) with the elapsed time and the ETA from
:class:`ProgressEstimator`, redrawn on each snapshot and ticking in between; elsewhere
(logs, pipes) one plain line per phase change; with ``--quiet`` nothing. ``resume``: a
line per job and phase (:class:`JobLines`). ``batch`` off a terminal: a line per item and
phase, read from the job journal (:class:`BatchLines`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TextIO

from tqdm import tqdm

from .._journal import JournalEntry
from .._models import Job
from .._params import VideoParams
from .._polling import TimingModel
from .._progress import Phase, ProgressEstimator, ProgressInfo
from .._untrusted import escape_controls

__all__ = [
    "BarDisplay",
    "BatchLines",
    "Display",
    "JobLines",
    "LineDisplay",
    "SilentDisplay",
    "is_terminal",
    "make_display",
]

Clock = Callable[[], float]

_BAR_STEPS = 1000
_TICK_SECONDS = 0.5
_BAR_FORMAT = "{desc:<11} {percentage:3.0f}%|{bar}| {status}"


class Display(Protocol):
    """What the generate command tells its display, in order."""

    def submitted(self, job: Job) -> None: ...
    def update(self, job: Job) -> None: ...
    def downloading(self) -> None: ...
    def close(self) -> None: ...


class SilentDisplay:
    """Shows nothing (``--quiet``)."""

    def submitted(self, job: Job) -> None:
        """Ignore the first snapshot."""

    def update(self, job: Job) -> None:
        """Ignore a snapshot."""

    def downloading(self) -> None:
        """Ignore the download's start."""

    def close(self) -> None:
        """Nothing to release."""


class _Tracked:
    """The estimator and the phase shared by the visible displays."""

    def __init__(self, timing: TimingModel, params: VideoParams | None, clock: Clock):
        self._clock = clock
        self._estimator = ProgressEstimator(timing, params, started=clock())
        self._phase_override: str | None = None
        self.job: Job | None = None

    def _observe(self, job: Job) -> None:
        self.job = job
        self._estimator.observe(job, self._clock())

    def _info(self) -> ProgressInfo:
        return self._estimator.info(self._clock(), phase=self._phase_override)


class LineDisplay(_Tracked):
    """One plain line per phase change: ``queued  vid_… seed 1234``, ``processing``,
    ``completed in 5.2 s``, ``downloading``."""

    def __init__(
        self,
        stream: TextIO,
        timing: TimingModel,
        params: VideoParams | None,
        clock: Clock = time.monotonic,
    ):
        super().__init__(timing, params, clock)
        self._stream = stream
        self._last: str | None = None

    def _say(self, line: str) -> None:
        print(escape_controls(line), file=self._stream, flush=True)

    def submitted(self, job: Job) -> None:
        """Say the job is in, with its id and seed."""
        self._observe(job)
        self._last = job.status
        self._say(f"{job.status}  {job.id} seed {job.seed}")

    def update(self, job: Job) -> None:
        """Say the new phase, if it changed."""
        self._observe(job)
        if job.status == self._last:
            return
        self._last = job.status
        elapsed = self._info().elapsed
        if job.is_completed:
            self._say(f"completed in {elapsed:.1f} s")
        elif job.is_failed:
            self._say(f"failed after {elapsed:.1f} s")
        else:
            self._say(job.status)

    def downloading(self) -> None:
        """Say the download has started."""
        self._phase_override = Phase.DOWNLOADING
        self._say(Phase.DOWNLOADING)

    def close(self) -> None:
        """Nothing to release."""


class _Bar(tqdm):
    """A tqdm bar with a free ``{status}`` field (tqdm's postfix adds a leading comma)."""

    status = ""

    @property
    def format_dict(self) -> dict[str, Any]:
        return {**super().format_dict, "status": self.status}


class BarDisplay(_Tracked):
    """A tqdm bar on a terminal, redrawn on each snapshot and every half second."""

    def __init__(
        self,
        stream: TextIO,
        timing: TimingModel,
        params: VideoParams | None,
        clock: Clock = time.monotonic,
        *,
        tick: float | None = _TICK_SECONDS,
    ):
        super().__init__(timing, params, clock)
        self._lock = threading.Lock()
        self._bar = _Bar(
            total=_BAR_STEPS,
            file=stream,
            bar_format=_BAR_FORMAT,
            dynamic_ncols=True,
            leave=False,
            desc=Phase.SUBMITTING,
        )
        self._stop = threading.Event()
        self._closed = False
        self._ticker: threading.Thread | None = None
        self._draw()
        if tick:
            self._ticker = threading.Thread(target=self._tick, args=(tick,), daemon=True)
            self._ticker.start()

    def _tick(self, every: float) -> None:
        while not self._stop.wait(every):
            self._draw()

    def _draw(self) -> None:
        with self._lock:
            if self._closed:
                return
            info = self._info()
            self._bar.set_description_str(escape_controls(info.phase), refresh=False)
            self._bar.n = max(self._bar.n, round(info.fraction * _BAR_STEPS))
            self._bar.status = escape_controls(self._status(info))
            self._bar.refresh()

    def _status(self, info: ProgressInfo) -> str:
        parts = [self.job.id] if self.job is not None else []
        parts.append(f"{tqdm.format_interval(info.elapsed)} elapsed")
        if info.eta is not None and info.phase not in (Phase.COMPLETED, Phase.DOWNLOADING):
            parts.append(f"ETA ~{tqdm.format_interval(info.eta)}")
        return ", ".join(parts)

    def submitted(self, job: Job) -> None:
        """Show the job's first snapshot."""
        self.update(job)

    def update(self, job: Job) -> None:
        """Show a new snapshot."""
        with self._lock:
            self._observe(job)
        self._draw()

    def downloading(self) -> None:
        """Show the download phase."""
        with self._lock:
            self._phase_override = Phase.DOWNLOADING
        self._draw()

    def close(self) -> None:
        """Stop the ticker and remove the bar."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        with self._lock:
            if not self._closed:
                self._closed = True
                self._bar.close()


def make_display(
    stream: TextIO,
    timing: TimingModel,
    params: VideoParams | None,
    *,
    quiet: bool = False,
) -> Display:
    """The display for ``stream``: silent, a bar on a terminal, else plain lines."""
    if quiet:
        return SilentDisplay()
    if is_terminal(stream):
        return BarDisplay(stream, timing, params)
    return LineDisplay(stream, timing, params)


class JobLines:
    """A line per job and phase change: ``vid_…  processing``; thread-safe."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self._lock = threading.Lock()
        self._last: dict[str, str] = {}

    def update(self, job: Job) -> None:
        """Say the job's new phase, if it changed."""
        with self._lock:
            if self._last.get(job.id) == job.status:
                return
            self._last[job.id] = job.status
            print(escape_controls(f"{job.id}  {job.status}"), file=self._stream, flush=True)


class BatchLines:
    """A line per item and phase change of a running batch (``prompts.txt:3  vid_…
    processing``), read from the job journal where the batch's workers record every
    snapshot. What the journal held before the run started is not repeated; the last
    read, on :meth:`close`, shows every item's outcome."""

    def __init__(
        self,
        stream: TextIO,
        read: Callable[[], Mapping[int, JournalEntry]],
        labels: Sequence[str],
        *,
        every: float = 1.0,
    ):
        self._stream = stream
        self._read = read
        self._labels = labels
        self._seen = {index: _state(entry) for index, entry in self._entries().items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(every,), daemon=True)
        self._thread.start()

    def _entries(self) -> Mapping[int, JournalEntry]:
        try:
            return self._read()
        except Exception:  # a display never stops the batch
            return {}

    def _watch(self, every: float) -> None:
        while not self._stop.wait(every):
            self._show()

    def _show(self) -> None:
        for index, entry in sorted(self._entries().items()):
            state = _state(entry)
            if index >= len(self._labels) or self._seen.get(index) == state:
                continue
            self._seen[index] = state
            line = f"{self._labels[index]}  {entry.job_id}  {state[1]}"
            print(escape_controls(line), file=self._stream, flush=True)

    def close(self) -> None:
        """Stop watching and show the last changes."""
        self._stop.set()
        self._thread.join()
        self._show()


def _state(entry: JournalEntry) -> tuple[str, str]:
    if entry.saved_path is not None:
        return entry.job_id, "saved"
    if entry.status == "failed" and entry.error_message:
        return entry.job_id, f"failed: {entry.error_message}"
    return entry.job_id, entry.status


def is_terminal(stream: TextIO) -> bool:
    """True when ``stream`` is a terminal (where a bar can redraw itself)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
