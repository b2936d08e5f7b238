"""Parameter sweeps: every combination of a few values of a few parameters. No I/O.

A :class:`SweepPlan` names its axes — ``seed=[1, 2, 3]``, ``guidance_scale=[3.0, 5.0]``,
a list of prompts — checks every combination before anything is sent, and says what the
sweep costs (its videos and their billed seconds, ``num_frames / fps`` each). Its items
go through the same batch machinery as ``generate_many`` (slots, journal, resume,
errors collected). A :class:`SweepResult` is that batch's :class:`BatchResult`, also
indexed by the swept values: ``result.by(seed=2, guidance_scale=5.0)``.

Order: the first axis varies fastest (it runs along a grid's columns), the second next
(rows), further axes make blocks; combination ``i`` of axes ``A, B, C`` is
``i = a + |A|·(b + |B|·c)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._batch import BatchResult
from ._exceptions import InvalidParameterError
from ._params import PARAMETERS, VideoParams
from ._video import Video

__all__ = ["DEFAULT_MAX_VIDEOS", "SweepAxis", "SweepPlan", "SweepResult"]

#: A sweep makes at most this many videos unless ``max_videos`` is raised.
DEFAULT_MAX_VIDEOS = 25
_AXES = ("prompt", *PARAMETERS)


@dataclass(frozen=True)
class SweepAxis:
    """One swept parameter and its values, in the order given."""

    name: str
    values: tuple[Any, ...]

    def __len__(self) -> int:
        return len(self.values)


class SweepPlan:
    """The combinations of a sweep, checked, in grid order (the first axis fastest).

    ``prompt`` is a prompt or a list of prompts; each keyword is a parameter, given a
    list (or tuple) of values to sweep or one value to hold; ``defaults`` fill in the
    parameters neither names. Every combination is validated here: an error names the
    axis and value (``guidance_scale[2]``) before anything is sent.
    """

    def __init__(
        self,
        prompt: str | Sequence[str],
        *,
        defaults: Mapping[str, Any] | None = None,
        **axes: Any,
    ):
        unknown = sorted(set(axes) - set(PARAMETERS))
        if unknown:
            raise InvalidParameterError(
                unknown[0],
                axes[unknown[0]],
                f"one of: {', '.join(PARAMETERS)}",
                f"{unknown[0]!r} is not a parameter to sweep; accepted: "
                f"prompt, {', '.join(PARAMETERS)}",
            )
        given = {"prompt": prompt, **axes}
        fixed: dict[str, Any] = {
            name: value for name, value in (defaults or {}).items() if name in PARAMETERS
        }
        swept: list[SweepAxis] = []
        for name in ("prompt", *axes):
            value = given[name]
            if isinstance(value, (list, tuple)):
                swept.append(_axis(name, value))
            else:
                fixed[name] = value
        if not swept:
            raise InvalidParameterError(
                "axes",
                None,
                "at least one parameter given a list of values",
                "a sweep needs at least one list of values, e.g. seed=[1, 2, 3] or "
                "guidance_scale=[3.0, 5.0]",
            )
        self.axes: tuple[SweepAxis, ...] = tuple(swept)
        self.fixed = fixed
        cells: list[VideoParams] = []
        for coordinates in self.coordinates():
            values = {**fixed, **coordinates}
            try:
                cells.append(VideoParams.create(values.pop("prompt"), **values))
            except InvalidParameterError as exc:
                where = _where(self.axes, coordinates, exc.param)
                raise InvalidParameterError(
                    where, exc.value, exc.accepted, f"{where}: {exc}"
                ) from None
        self.params: tuple[VideoParams, ...] = tuple(cells)

    def coordinates(self) -> Iterator[dict[str, Any]]:
        """Each combination as ``{axis name: value}``, in grid order."""
        # itertools.product varies its *last* iterable fastest: give the axes reversed.
        for values in itertools.product(*(axis.values for axis in reversed(self.axes))):
            yield dict(zip((axis.name for axis in reversed(self.axes)), values, strict=True))

    def __len__(self) -> int:
        return len(self.params)

    @property
    def shape(self) -> tuple[int, ...]:
        """The number of values of each axis, first axis first."""
        return tuple(len(axis) for axis in self.axes)

    @property
    def billed_seconds(self) -> float:
        """The seconds of video the sweep makes, which is what is billed."""
        return sum(params.duration_seconds for params in self.params)

    def items(self) -> list[dict[str, Any]]:
        """The batch items of the sweep, in grid order."""
        return [
            {"prompt": params.prompt, **{name: getattr(params, name) for name in PARAMETERS}}
            for params in self.params
        ]

    def check_size(self, max_videos: int) -> None:
        """Refuse a sweep of more than ``max_videos`` videos, saying what it would cost."""
        if isinstance(max_videos, bool) or not isinstance(max_videos, int) or max_videos < 1:
            raise InvalidParameterError("max_videos", max_videos, "a whole number ≥ 1")
        if len(self) > max_videos:
            raise InvalidParameterError(
                "max_videos",
                max_videos,
                f"a limit of at least {len(self)} for this sweep",
                f"this sweep makes {len(self)} videos ({self.describe()}), "
                f"{self.billed_seconds:g} billed seconds: more than max_videos={max_videos}. "
                f"Nothing was sent; pass max_videos={len(self)} to make it.",
            )

    def describe(self) -> str:
        """The axes in a few words: ``"seed × 3, guidance_scale × 2"``."""
        return ", ".join(f"{axis.name} × {len(axis)}" for axis in self.axes)

    def __repr__(self) -> str:
        return (
            f"SweepPlan({len(self)} videos: {self.describe()}; "
            f"{self.billed_seconds:g} billed seconds)"
        )


class SweepResult(BatchResult):
    """A sweep's :class:`BatchResult` (videos in grid order, ``errors[i]`` where one
    failed), also indexed by the swept values."""

    def __init__(self, result: BatchResult, plan: SweepPlan):
        super().__init__(list(result), dict(result.errors))
        self.axes = plan.axes
        self._coordinates = [
            tuple(coordinates[axis.name] for axis in plan.axes)
            for coordinates in plan.coordinates()
        ]

    def by(self, **values: Any) -> Video | None:
        """The video of the cell with these swept values (every axis named), or
        ``None`` when that cell failed (see :attr:`errors`). ``KeyError`` names the
        values that exist when no cell has them."""
        names = [axis.name for axis in self.axes]
        if set(values) != set(names):
            raise KeyError(f"name every swept parameter: {', '.join(names)}; got {sorted(values)}")
        wanted = tuple(values[name] for name in names)
        for index, coordinates in enumerate(self._coordinates):
            if coordinates == wanted:
                return self[index]
        choices = "; ".join(f"{axis.name} in {list(axis.values)}" for axis in self.axes)
        raise KeyError(f"no cell has {values}: {choices}")

    @property
    def cells(self) -> dict[tuple[Any, ...], Video | None]:
        """Every cell: ``{(value of the first axis, value of the second, …): video}``."""
        return dict(zip(self._coordinates, self, strict=True))

    def __repr__(self) -> str:
        axes = ", ".join(f"{axis.name} × {len(axis)}" for axis in self.axes)
        return f"SweepResult({axes}: {self.summary()!r})"


def _axis(name: str, values: Sequence[Any]) -> SweepAxis:
    if not values:
        raise InvalidParameterError(name, list(values), "a list of at least one value")
    for index, value in enumerate(values):
        if any(_same(value, other) for other in values[:index]):
            raise InvalidParameterError(
                f"{name}[{index}]", value, "values that differ", f"{name} lists {value!r} twice"
            )
    return SweepAxis(name, tuple(values))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b)
    return bool(a == b)


def _where(axes: Sequence[SweepAxis], coordinates: Mapping[str, Any], param: str) -> str:
    """Name a bad value by its axis and position (``guidance_scale[2]``)."""
    for axis in axes:
        if axis.name == param:
            return f"{param}[{axis.values.index(coordinates[param])}]"
    return param
