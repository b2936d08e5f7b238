"""``VideoGallery``: a batch of videos as a grid of cards, each with its live status and,
once done, its video playing inline.

The gallery is a :class:`VideoWidget` shown as a grid (``mode = "grid"``, no form): every
item of :meth:`VideoGallery.generate_many` is one run, so a card goes through the same
phases as a widget's run and its video travels the same way (asked for by the view, sent
as one binary buffer, never in synced state). The account's five slots cap the jobs in
flight; the other cards wait visibly for a free slot.

A gallery's batch is a batch like :meth:`AsyncClient.generate_many`'s: the same plan
and item flows, journaled under the batch's name, so that making the same gallery
again (after a kernel restart, say) shows the saved videos at once, follows the
unfinished jobs and submits only what never ran.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import traitlets

from .._async_client import AsyncClient
from .._batch import BatchItem, BatchPlan, BatchResult
from .._exceptions import EcoVideoError, InvalidParameterError
from .._page import PageCell, page_html, value_name, write_page
from .._progress import Phase
from .._shell import DEFAULT_TIMEOUT
from .._show import VideoGrid, default_title, show_videos, title_of
from .._slots import MAX_ACTIVE_JOBS
from .._sweep import DEFAULT_MAX_VIDEOS, SweepPlan, SweepResult
from .._video import Video
from ._form import PARAM_LABELS
from ._run import FOLLOWED, WAITING, Publish, Run, drive_run
from ._widget import VideoWidget

__all__ = ["VideoGallery"]

logger = logging.getLogger("eco_widget")
_AXIS_LABELS = {"prompt": "Prompt", **PARAM_LABELS}


class VideoGallery(VideoWidget):
    """A grid of videos made from many prompts, with live status on every card.

    >>> g = VideoGallery()
    >>> g                                       # shows the (empty) grid
    >>> g.generate_many(["a red balloon", {"prompt": "a koi pond", "seed": 7}])
    >>> result = await g                         # or g.wait(): a BatchResult

    ``items`` are prompts or dicts of ``prompt`` and parameters, as for
    :meth:`AsyncClient.generate_many`; every item is checked before anything is sent.
    ``client`` and ``timeout`` are as for :class:`VideoWidget`; keyword arguments set
    the defaults of items that do not name a parameter.
    """

    mode = traitlets.Unicode("grid").tag(sync=True)
    #: The latest sweep's axes and the run key of each cell (``None``: not a sweep;
    #: see static/PROTOCOL.md).
    sweep_layout = traitlets.Dict(default_value=None, allow_none=True).tag(sync=True)

    def __init__(
        self,
        items: Iterable[BatchItem] | None = None,
        *,
        concurrency: int = MAX_ACTIVE_JOBS,
        client: AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        **defaults: Any,
    ):
        super().__init__(client=client, timeout=timeout, **defaults)
        self._defaults = {name: value for name, value in defaults.items() if name != "prompt"}
        self._batch: concurrent.futures.Future[BatchResult] | None = None
        if items is not None:
            self.generate_many(items, concurrency=concurrency)

    def generate_many(
        self,
        items: Iterable[BatchItem],
        *,
        concurrency: int = MAX_ACTIVE_JOBS,
        resume: bool = True,
    ) -> VideoGallery:
        """Add one card per item and make its video, at most ``concurrency`` at a time
        (the account's five slots cap it in any case). Returns the gallery, so
        ``await g.generate_many(items)`` gives the :class:`BatchResult` (videos in item
        order, ``errors[i]`` where one failed).

        Raises :class:`InvalidParameterError` naming the first bad item's field (e.g.
        ``items[3].num_frames``) before anything is sent. Making the same batch again
        (``resume``, as for :meth:`AsyncClient.generate_many`) shows its saved videos at
        once, follows its unfinished jobs and submits only what never ran, with the
        seeds drawn the first time.
        """
        items = [self._with_defaults(item) for item in _listed(items)]
        self._start_batch(items, concurrency, resume, None)
        return self

    def plan_sweep(self, prompt: str | list[str], **axes: Any) -> SweepPlan:
        """What :meth:`sweep` would make, without sending anything: its combinations
        (``plan.params``, in grid order), ``len(plan)`` videos and
        ``plan.billed_seconds``. Raises :class:`InvalidParameterError` naming the axis
        and value at fault (``guidance_scale[2]``)."""
        return SweepPlan(prompt, defaults=self._defaults, **axes)

    def sweep(
        self,
        prompt: str | list[str],
        *,
        max_videos: int = DEFAULT_MAX_VIDEOS,
        concurrency: int = MAX_ACTIVE_JOBS,
        resume: bool = True,
        **axes: Any,
    ) -> VideoGallery:
        """Make a video of every combination of the values given as lists — e.g.
        ``g.sweep("a koi pond", seed=[1, 2, 3], guidance_scale=[3.0, 5.0])``; a list of
        prompts is an axis too; single values and the gallery's defaults fill in the
        rest — and show them as a table: the first axis along the columns, the second
        along the rows, further axes as blocks.

        Every combination is checked first, and a sweep of more than ``max_videos``
        (25) videos is refused, saying how many and their billed seconds
        (:meth:`plan_sweep` tells the same without sending anything). The videos are
        made like :meth:`generate_many`'s (slots, journal, resume, errors collected).
        Returns the gallery: ``await g`` gives a :class:`SweepResult`, also indexed by
        the swept values (``result.by(seed=2, guidance_scale=5.0)``).
        """
        plan = self.plan_sweep(prompt, **axes)
        plan.check_size(max_videos)
        self._start_batch(plan.items(), concurrency, resume, plan)
        return self

    def compare(self, a: Video | str, b: Video | str) -> VideoGallery:
        """Show two videos side by side, or one over the other with a split you drag
        ("swipe"), under one transport. Each is a :class:`Video`, or the id of a job
        (followed to its video like :meth:`VideoWidget.attach`). Returns the gallery."""
        for which, value in (("a", a), ("b", b)):
            if not isinstance(value, (Video, str)):
                raise InvalidParameterError(which, value, "a Video or a job id")
        self._home.call(self.set_trait, "sweep_layout", None)
        self._home.call(self.set_trait, "mode", "compare")
        runs = [
            self._shown(value)
            if isinstance(value, Video)
            else self._attach(value, self._journal_entry(value))
            for value in (a, b)
        ]
        batch: concurrent.futures.Future[BatchResult] = concurrent.futures.Future()
        batch.set_running_or_notify_cancel()
        self._batch = batch
        self._home.call(self._home.spawn, _settle_all(runs, batch), "eco_widget compare")
        return self

    def show_videos(self, *, columns: int | None = None, width: int | None = None) -> VideoGrid:
        """The finished videos as plain HTML (:func:`eco_widget.show_videos`): what to
        leave in a notebook that will be shared, exported or read where widgets do not
        render (GitHub, nbviewer). A sweep's videos come in grid order, each titled with
        its cell ("Seed 2 · Guidance 5.0"), one column per value of the first axis.

        The widget itself never embeds videos in its output (they would be stored in
        the notebook beside the live view); this is the explicit way to do it."""
        runs = {run.key: run for run in list(self._runs)}
        layout = self.sweep_layout
        if not layout:
            return show_videos(self.videos, columns=columns, width=width)
        axes = layout["axes"]
        videos: list[Video] = []
        titles: list[str] = []
        for key in layout.get("runs") or []:
            run = runs.get(key) if key is not None else None
            if run is None or run.video is None:
                continue
            params = run.video.job.params
            values = [getattr(params, a["name"], None) for a in axes]
            names = (value_name(a, v)[0] for a, v in zip(axes, values, strict=True))
            titles.append(" · ".join(names))
            videos.append(run.video)
        first = len(axes[0]["values"]) if axes else None
        return show_videos(videos, columns=columns or first, width=width, titles=titles)

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the gallery as one page that plays in any browser, with no Python, and
        return its path: ``g.to_html("sweep.html")`` (a folder gets ``gallery.html``).

        Every finished video is embedded (so the page is about 4/3 of the videos' size),
        laid out as here — a sweep's tables with their headers ("Seed 2", "Guidance
        5.0"), or a grid with each video's prompt and seed — under one transport in plain
        JavaScript: play and pause all, one timeline, ±1 frame, loop, speed. A card
        without a video shows its status instead ("Failed — …", "Processing"). After
        :meth:`compare`, the page compares the two videos as here: side by side, or
        overlaid with a split to drag ("Swipe"). Written atomically: the file is
        complete or left as it was."""
        runs = {run.key: run for run in list(self._runs)}

        def cell(run: Run | None) -> PageCell:
            if run is None:
                return PageCell(None, "", "Not started")
            if run.video is not None:
                return PageCell(run.video, default_title(run.video))
            state = run.to_json()
            words = [state["phase_label"]]
            words += [state["error"]["message"]] if state["error"] else []
            words += [state["note"]] if state["note"] else []
            title = title_of(state["prompt"], state["seed"]) or str(state["job_id"] or "")
            return PageCell(None, title, " — ".join(words))

        if self.mode == "compare":  # the two oldest runs, first one first, as the view shows
            pair = [cell(run) for run in list(runs.values())[:2]]
            return write_page(path, page_html(pair, compare=True))
        layout = self.sweep_layout
        if not layout:
            return write_page(path, page_html([cell(run) for run in runs.values()]))
        keys = list(layout.get("runs") or [])
        more = [cell(run) for key, run in runs.items() if key not in set(keys)]
        cells = [cell(runs.get(key) if key is not None else None) for key in keys]
        return write_page(path, page_html(cells, axes=layout["axes"], more=more))

    def _shown(self, video: Video) -> Run:
        """A run for a video already made: done at once."""
        run = self._new_run(video.job.params)
        run.video, run.job = video, video.job
        run.finish(Phase.COMPLETED)
        run.outcome.set_result(video)
        self._home.call(functools.partial(self._publish, now=True))
        return run

    def _start_batch(
        self, items: list[Any], concurrency: int, resume: bool, sweep: SweepPlan | None
    ) -> None:
        plan = BatchPlan(items, account=self._account(), concurrency=concurrency)
        runs = [self._new_run(params) for params in plan.items]
        batch: concurrent.futures.Future[BatchResult] = concurrent.futures.Future()
        batch.set_running_or_notify_cancel()
        self._batch = batch
        layout = _layout(sweep, [run.key for run in runs]) if sweep is not None else None
        self._home.call(self.set_trait, "mode", "grid")
        self._home.call(self.set_trait, "sweep_layout", layout)
        self._home.call(
            self._home.spawn,
            self._run_batch(plan, runs, resume, batch, sweep),
            "eco_widget gallery",
        )

    async def _run_batch(
        self,
        plan: BatchPlan,
        runs: list[Run],
        resume: bool,
        batch: concurrent.futures.Future[BatchResult],
        sweep: SweepPlan | None = None,
    ) -> None:
        """On the home loop: read what the journal has of an earlier run of this batch
        (in a worker thread), start every card, and settle ``batch`` once all have
        ended."""
        try:
            client = self._try_client()
            if resume and client is not None and client.journal is not None:
                journal, key = client.journal, plan.key
                try:
                    plan.previous = await asyncio.to_thread(journal.batch, key)
                except EcoVideoError as exc:  # a damaged journal: submit afresh
                    logger.warning("an earlier run of this batch is unreadable: %s", exc)
            # Its unfinished jobs are followed by their cards: not offered as well.
            followed = {e.job_id for e in plan.previous.values() if not e.is_finished}
            FOLLOWED.update(followed)
            if followed:
                self.pending = [o for o in self.pending if o["job_id"] not in followed]
            limit = plan.concurrency
            gate = asyncio.Semaphore(limit) if limit < MAX_ACTIVE_JOBS else None
            for index, run in enumerate(runs):
                run.params = plan.params_for(index)
                self._begin(run, functools.partial(_gated(gate, limit), batch=(plan, index)))
        except BaseException as exc:
            batch.set_exception(exc)
            raise
        await _settle_all(runs, batch, sweep)

    async def result(self) -> BatchResult:  # type: ignore[override]
        """The latest batch's :class:`BatchResult`, once every card is settled (a card
        whose waiting was stopped counts as failed; its job goes on)."""
        return await self._home.wait(self._latest_batch())

    def wait(self, timeout: float | None = None) -> BatchResult:  # type: ignore[override]
        """Block until every card of the latest batch is settled and return the
        :class:`BatchResult` (see :meth:`VideoWidget.wait`)."""
        return self._home.block_on(self._latest_batch(), timeout)

    def _latest_batch(self) -> concurrent.futures.Future[BatchResult]:
        if self._batch is None:
            raise RuntimeError("nothing generated yet: call g.generate_many(items)")
        return self._batch

    def _with_defaults(self, item: Any) -> Any:
        if not self._defaults:
            return item
        if isinstance(item, str):
            return {**self._defaults, "prompt": item}
        if isinstance(item, dict):
            return {**self._defaults, **item}
        return item

    def _account(self) -> str:
        client = self._try_client()
        return client.account if client is not None else ""


async def _settle_all(
    runs: list[Run],
    batch: concurrent.futures.Future[BatchResult],
    sweep: SweepPlan | None = None,
) -> None:
    """Set ``batch`` once every run has ended (a :class:`SweepResult` for a sweep)."""
    try:
        outcomes = await asyncio.gather(
            *(asyncio.wrap_future(run.outcome) for run in runs), return_exceptions=True
        )
        result = BatchResult.collect(outcomes)
        batch.set_result(result if sweep is None else SweepResult(result, sweep))
    except BaseException as exc:
        if not batch.done():
            batch.set_exception(exc)
        raise


def _layout(plan: SweepPlan, runs: list[str]) -> dict[str, Any]:
    """The ``sweep`` trait: the axes (name, label, values) and each cell's run key."""
    return {
        "axes": [
            {"name": axis.name, "label": _AXIS_LABELS[axis.name], "values": list(axis.values)}
            for axis in plan.axes
        ],
        "runs": runs,
    }


def _listed(items: Iterable[BatchItem]) -> Any:
    """A list of the items (a one-shot iterator is read once), or the value as given
    for :class:`BatchPlan` to refuse."""
    if isinstance(items, (str, bytes, dict)) or not isinstance(items, Iterable):
        return items
    return list(items)


def _gated(gate: asyncio.Semaphore | None, concurrency: int) -> Any:
    """:func:`drive_run`, behind the batch's own limit when it is below the account's."""
    if gate is None:
        return drive_run

    async def drive(
        run: Run,
        client: AsyncClient,
        publish: Publish,
        *,
        timeout: float,
        batch: tuple[BatchPlan, int],
    ) -> Video:
        if gate.locked():
            run.set_phase(WAITING, f"Waiting for a free slot ({concurrency} running)")
            publish(now=True)
        async with gate:
            return await drive_run(run, client, publish, timeout=timeout, batch=batch)

    return drive
