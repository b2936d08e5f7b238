"""A batch's progress bar (``tqdm.auto``: a widget in notebooks, a bar in terminals),
told by each item's callbacks. Used by both clients' ``generate_many``."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from ._models import Job
from ._slots import SlotWait

__all__ = ["INTERRUPTED", "BatchProgress"]

#: What the bar says when the whole batch is interrupted.
INTERRUPTED = (
    "batch interrupted: its jobs go on on the server; run the same generate_many "
    "again to pick them up (nothing is submitted twice)"
)


class BatchProgress:
    """A progress bar over the items whose postfix counts the items in each phase.
    Thread-safe."""

    def __init__(self, total: int, *, enabled: bool, description: str = "videos"):
        self._lock = threading.Lock()
        self._phase: dict[int, str] = {}
        self._bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=description, unit="video", dynamic_ncols=True)

    def tracker(
        self, index: int
    ) -> tuple[Callable[[Job], None], Callable[[SlotWait], None]]:
        """The ``on_update`` and ``on_wait`` callbacks of item ``index``."""

        def on_update(job: Job) -> None:
            self.phase(index, "downloading" if job.is_completed else job.status)

        def on_wait(wait: SlotWait) -> None:
            self.phase(index, "waiting")

        return on_update, on_wait

    def phase(self, index: int, phase: str) -> None:
        with self._lock:
            if self._phase.get(index) in ("done", "failed"):
                return
            self._phase[index] = phase
            self._refresh()

    def finish(self, index: int, ok: bool) -> None:
        with self._lock:
            self._phase[index] = "done" if ok else "failed"
            if self._bar is not None:
                self._bar.update(1)
            self._refresh()

    def _refresh(self) -> None:
        if self._bar is not None:
            counts = Counter(self._phase.values())
            order = ("waiting", "queued", "processing", "downloading", "failed")
            self._bar.set_postfix_str(
                ", ".join(f"{counts[name]} {name}" for name in order if counts[name]),
                refresh=True,
            )

    def close(self, summary: str | None = None) -> None:
        if self._bar is not None:
            self._bar.close()
            if summary:
                self._bar.write(summary)
