"""How long a job waits in the queue and how long it is processed, per profile.

- ``instant``: no queue and no processing time: a job takes as long as its render.
- ``fast``: queued 0.3–1 s, processed 1–3 s: a few seconds in all, for demos.
- ``realistic``: like production: queued 30–60 s; processed 60–120 s, growing with
  ``num_frames × num_inference_steps`` (60 s at the smallest job, 120 s at 81 × 80),
  with a little jitter.

Every duration is multiplied by ``time_scale``. The render itself runs during the
processing time; a job completes when both are over.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .._params import PARAMETERS, VideoParams
from ._config import Profile

__all__ = ["PROFILE_SECONDS", "Plan", "ProfileSeconds", "TimingPlanner"]

_SMALLEST_WORK = PARAMETERS["num_frames"].minimum * PARAMETERS["num_inference_steps"].minimum
_LARGEST_WORK = PARAMETERS["num_frames"].maximum * PARAMETERS["num_inference_steps"].maximum
_REALISTIC_JITTER = 4.0


@dataclass(frozen=True)
class ProfileSeconds:
    """The ranges a profile draws its durations from (before ``time_scale``)."""

    queue_min: float
    queue_max: float
    processing_min: float
    processing_max: float


PROFILE_SECONDS: dict[Profile, ProfileSeconds] = {
    "instant": ProfileSeconds(0.0, 0.0, 0.0, 0.0),
    "fast": ProfileSeconds(0.3, 1.0, 1.0, 3.0),
    "realistic": ProfileSeconds(30.0, 60.0, 60.0, 120.0),
}


@dataclass(frozen=True)
class Plan:
    """The planned durations of one job, in seconds."""

    queue_seconds: float
    processing_seconds: float


class TimingPlanner:
    """Draws the plan of each new job. Deterministic given the seed of ``rng``."""

    def __init__(self, profile: Profile, time_scale: float, rng: random.Random) -> None:
        self.profile = profile
        self.time_scale = time_scale
        self._rng = rng

    def plan(self, params: VideoParams) -> Plan:
        """The queue and processing durations of a job with these parameters."""
        seconds = PROFILE_SECONDS[self.profile]
        if self.profile == "instant":
            return Plan(0.0, 0.0)
        queue = self._rng.uniform(seconds.queue_min, seconds.queue_max)
        low, high = seconds.processing_min, seconds.processing_max
        if self.profile == "fast":
            processing = self._rng.uniform(low, high)
        else:
            work = params.num_frames * params.num_inference_steps
            share = (work - _SMALLEST_WORK) / (_LARGEST_WORK - _SMALLEST_WORK)
            jitter = self._rng.uniform(-_REALISTIC_JITTER, _REALISTIC_JITTER)
            processing = min(high, max(low, low + (high - low) * share + jitter))
        return Plan(queue * self.time_scale, processing * self.time_scale)
