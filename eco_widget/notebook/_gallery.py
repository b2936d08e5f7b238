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
from collections.abc import Iterable
from typing import Any

import traitlets

from .._async_client import AsyncClient
from .._batch import BatchItem, BatchPlan, BatchResult
from .._exceptions import EcoVideoError
from .._shell import DEFAULT_TIMEOUT
from .._slots import MAX_ACTIVE_JOBS
from .._video import Video
from ._run import FOLLOWED, WAITING, Publish, Run, drive_run
from ._widget import VideoWidget

__all__ = ["VideoGallery"]

logger = logging.getLogger("eco_widget")


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
        plan = BatchPlan(items, account=self._account(), concurrency=concurrency)
        runs = [self._new_run(params) for params in plan.items]
        batch: concurrent.futures.Future[BatchResult] = concurrent.futures.Future()
        batch.set_running_or_notify_cancel()
        self._batch = batch
        self._home.call(
            self._home.spawn, self._run_batch(plan, runs, resume, batch), "eco_widget gallery"
        )
        return self

    async def _run_batch(
        self,
        plan: BatchPlan,
        runs: list[Run],
        resume: bool,
        batch: concurrent.futures.Future[BatchResult],
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
            outcomes = await asyncio.gather(
                *(asyncio.wrap_future(run.outcome) for run in runs), return_exceptions=True
            )
            batch.set_result(BatchResult.collect(outcomes))
        except BaseException as exc:
            batch.set_exception(exc)
            raise

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
