"""What ``resume()`` recovered: the videos, the jobs still running, and what is gone."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._exceptions import EcoVideoError, JobTimeoutError
from ._models import Job
from ._video import Video

__all__ = ["ResumeResult"]


@dataclass
class ResumeResult:
    """The outcome of :meth:`Client.resume`.

    ``videos``: recovered and saved. ``running``: still queued or processing when the
    wait ended (resume again later). ``errors``: job id → why it cannot be recovered
    (failed, expired, unknown to the server…); each is journaled and not tried again.
    """

    videos: list[Video] = field(default_factory=list)
    running: list[Job] = field(default_factory=list)
    errors: dict[str, EcoVideoError] = field(default_factory=dict)

    def add(self, job_id: str, outcome: Video | BaseException) -> None:
        """File one job's outcome (an exception that is not an ``EcoVideoError`` is
        raised again)."""
        if isinstance(outcome, Video):
            self.videos.append(outcome)
        elif isinstance(outcome, JobTimeoutError):
            self.running.append(outcome.job)
        elif isinstance(outcome, EcoVideoError):
            self.errors[job_id] = outcome
        else:
            raise outcome

    def __len__(self) -> int:
        return len(self.videos)

    def __bool__(self) -> bool:
        return bool(self.videos or self.running or self.errors)

    def summary(self) -> str:
        """``"2 videos recovered, 1 still running, 1 lost: …"``, one line per loss."""
        if not self:
            return "nothing to resume: every journaled job of this account is settled"
        parts = [f"{len(self.videos)} video{'s' * (len(self.videos) != 1)} recovered"]
        if self.running:
            parts.append(f"{len(self.running)} still running")
        if self.errors:
            parts.append(f"{len(self.errors)} not recoverable:")
        lines = [", ".join(parts)]
        lines += [f"  {job_id}: {error}" for job_id, error in self.errors.items()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ResumeResult({self.summary()!r})"
