"""Batches: many videos as easily as one. No I/O.

A :class:`BatchPlan` validates every item before anything is sent and names the batch
(a hash of the account and the items as given), so that running the same batch again
picks up its journaled jobs: saved videos are returned from disk, unfinished jobs are
waited for, and only what never ran is submitted (each item's flow is
``Shell._batch_item``). :class:`BatchResult` holds the videos in input order and the
errors of the items that failed. ``Client`` runs the items on threads, ``AsyncClient``
and ``VideoGallery`` as tasks: the plan, each item's flow and the result are the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, overload

from ._exceptions import EcoVideoError, InvalidParameterError, UnexpectedResponseError
from ._models import Job
from ._params import PARAMETERS, VideoParams
from ._protocol import EarlierJob
from ._video import Video

__all__ = ["STOPPED", "BatchItem", "BatchPlan", "BatchResult"]

#: An item: a prompt, or a dict of ``prompt`` and any parameters.
BatchItem = str | Mapping[str, Any]
_TEMPLATE_FIELDS = ("index", "seed", "slug", "job_id", "num_frames", "fps")
_FIELD_LIST = ", ".join(f"{{{name}}}" for name in _TEMPLATE_FIELDS)
_SLUG = re.compile(r"[^a-z0-9]+")
#: The error of an item whose waiting was stopped.
STOPPED = (
    "stopped waiting: its job goes on on the server; run the same batch again to pick it up"
)


def _item_params(index: int, item: Any) -> VideoParams:
    where = f"items[{index}]"
    if isinstance(item, str):
        fields: dict[str, Any] = {"prompt": item}
    elif isinstance(item, Mapping):
        fields = dict(item)
    else:
        raise InvalidParameterError(
            where, item, "a prompt (str) or a dict with 'prompt' and parameters"
        )
    unknown = sorted(set(fields) - {"prompt", *PARAMETERS})
    if unknown:
        raise InvalidParameterError(
            f"{where}.{unknown[0]}",
            fields[unknown[0]],
            f"one of: prompt, {', '.join(PARAMETERS)}",
            f"{where} has an unknown parameter {unknown[0]!r}; accepted: prompt, "
            f"{', '.join(PARAMETERS)}",
        )
    if "prompt" not in fields:
        raise InvalidParameterError(f"{where}.prompt", None, "a prompt", f"{where} has no prompt")
    prompt = fields.pop("prompt")
    try:
        return VideoParams.create(prompt, **fields)
    except InvalidParameterError as exc:
        raise InvalidParameterError(
            f"{where}.{exc.param}", exc.value, exc.accepted, f"{where}: {exc}"
        ) from None


def _check_template(template: str) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        template.format(**dict.fromkeys(_TEMPLATE_FIELDS, 0))
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidParameterError(
            "path_template",
            template,
            "a str.format pattern using " + _FIELD_LIST,
            f"path_template {template!r} cannot be filled ({type(exc).__name__}: {exc}); "
            "use the fields " + _FIELD_LIST,
        ) from None
    if not names & {"index", "job_id"}:
        raise InvalidParameterError(
            "path_template",
            template,
            "a pattern with {index} or {job_id}, so that every video gets its own file",
        )


class BatchPlan:
    """The validated items of a batch, its journal key and where each video goes."""

    def __init__(
        self,
        items: Iterable[BatchItem],
        *,
        account: str,
        concurrency: int = 5,
        path_template: str | None = None,
    ):
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
            raise InvalidParameterError(
                "items", items, "a list of prompts or of dicts of parameters"
            )
        self.items = [_item_params(i, item) for i, item in enumerate(items)]
        if not self.items:
            raise InvalidParameterError("items", [], "at least one prompt")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidParameterError(
                "concurrency", concurrency, "a whole number ≥ 1 (the account runs 5 at once)"
            )
        if path_template is not None:
            if not isinstance(path_template, str):
                raise InvalidParameterError(
                    "path_template", path_template, "a str.format pattern or None"
                )
            _check_template(path_template)
        self.concurrency = concurrency
        self.path_template = path_template
        given = [p.to_body() | {"seed": p.seed} for p in self.items]
        digest = hashlib.sha256(
            json.dumps([account, path_template, given], sort_keys=True).encode()
        ).hexdigest()
        self.key = "batch_" + digest[:20]
        #: The journal's latest entry of each item of an earlier run of this batch.
        self.previous: Mapping[int, EarlierJob] = {}
        self._seeded: dict[int, VideoParams] = {}

    def __len__(self) -> int:
        return len(self.items)

    def params_for(self, index: int) -> VideoParams:
        """An item's parameters, with its seed: the one given, else the one an earlier
        try drew (so a re-run makes the same video), else a new one, drawn once (ask
        after :attr:`previous` is set)."""
        seeded = self._seeded.get(index)
        if seeded is None:
            params = self.items[index]
            entry = self.previous.get(index)
            if params.seed is None and entry is not None and entry.seed is not None:
                params = replace(params, seed=entry.seed)
            seeded = self._seeded[index] = params.with_seed()
        return seeded

    def target(self, index: int) -> Callable[[Job], Path] | None:
        """Where item ``index`` is saved: the template filled in, or ``None`` (the
        client's auto-save folder)."""
        template = self.path_template
        if template is None:
            return None

        # The folder the template names before its first field: every filled-in path
        # must stay inside it, whatever the fields (a server's job id among them) hold.
        fixed = os.path.dirname(template.split("{", 1)[0]) or "."

        def fill(job: Job) -> Path:
            params = job.params or self.items[index]
            slug = _SLUG.sub("-", params.prompt.lower()).strip("-")[:48].rstrip("-") or "video"
            path = Path(
                template.format(
                    index=index,
                    seed=params.seed,
                    slug=slug,
                    job_id=job.id,
                    num_frames=params.num_frames,
                    fps=params.fps,
                )
            )
            base = os.path.realpath(Path(fixed).expanduser())
            if not os.path.realpath(path.expanduser()).startswith(base.rstrip(os.sep) + os.sep):
                raise UnexpectedResponseError(
                    f"refusing to save item {index} as {str(path)!r}: path_template "
                    f"{template!r} filled in leaves its folder {base}"
                )
            return path

        return fill


class BatchResult(Sequence["Video | None"]):
    """A batch's outcome, in input order: the :class:`Video` of each item, or ``None``
    where it failed (``errors[index]`` says why)."""

    def __init__(self, videos: list[Video | None], errors: dict[int, EcoVideoError]):
        self._videos = videos
        self.errors = errors

    @classmethod
    def collect(cls, outcomes: Sequence[Video | BaseException]) -> BatchResult:
        """The result of a batch from each item's outcome, in input order: its video,
        or what ended it. An :class:`EcoVideoError` is kept as the item's error; an item
        whose waiting was stopped (cancelled, interrupted) gets one saying that its job
        goes on; any other exception is kept as an :class:`EcoVideoError` naming it
        (chained to it). ``KeyboardInterrupt`` and ``SystemExit`` are raised."""
        videos: list[Video | None] = []
        errors: dict[int, EcoVideoError] = {}
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, Video):
                videos.append(outcome)
                continue
            videos.append(None)
            if isinstance(outcome, EcoVideoError):
                errors[index] = outcome
            elif isinstance(outcome, (asyncio.CancelledError, InterruptedError)):
                errors[index] = EcoVideoError(STOPPED)
            elif isinstance(outcome, Exception):
                error = EcoVideoError(f"{type(outcome).__name__}: {outcome}")
                error.__cause__ = outcome
                errors[index] = error
            else:
                raise outcome
        return cls(videos, errors)

    @overload
    def __getitem__(self, index: int) -> Video | None: ...
    @overload
    def __getitem__(self, index: slice) -> list[Video | None]: ...
    def __getitem__(self, index: int | slice) -> Video | list[Video | None] | None:
        return self._videos[index]

    def __len__(self) -> int:
        return len(self._videos)

    def __iter__(self) -> Iterator[Video | None]:
        return iter(self._videos)

    @property
    def videos(self) -> list[Video]:
        """The videos that were made, in input order."""
        return [video for video in self._videos if video is not None]

    @property
    def ok(self) -> bool:
        """True when every item gave a video."""
        return not self.errors

    def summary(self) -> str:
        """One line per failure after a count, e.g. ``"9 of 10 videos; 1 failed: …"``."""
        lines = [f"{len(self.videos)} of {len(self)} videos"]
        if self.errors:
            lines[0] += f"; {len(self.errors)} failed:"
            for index, error in sorted(self.errors.items()):
                lines.append(f"  [{index}] {type(error).__name__}: {error}")
        return "\n".join(lines)

    def raise_for_errors(self) -> BatchResult:
        """Raise the first failed item's error, if any; else return the result."""
        if self.errors:
            raise self.errors[min(self.errors)]
        return self

    def __repr__(self) -> str:
        return f"BatchResult({self.summary()!r})"
