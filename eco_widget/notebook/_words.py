"""The words the widget's front end shows for a run's phases and a job's status: sent to
it in the ``limits`` trait (see ``form_limits``), so that widget.js holds none of its own."""

from __future__ import annotations

from .._models import JobStatus
from .._progress import Phase

__all__ = [
    "ERROR",
    "PENDING_STATUS_WORDS",
    "PHASE_WORDS",
    "RESUMING",
    "STOPPED",
    "TALLY_WORDS",
    "WAITING",
]

#: A run's phases beyond a job's (:class:`Phase`): waiting for a slot, looking up a job
#: submitted earlier, stopped waiting (the job goes on), ended by an unexpected error.
WAITING = "waiting"
RESUMING = "resuming"
STOPPED = "stopped"
ERROR = "error"

#: What each phase of a run is called on screen: a card in the history strip, what a
#: screen reader hears, and a run's ``phase_label`` when it has none of its own.
PHASE_WORDS: dict[str, str] = {
    WAITING: "Waiting for a free slot",
    RESUMING: "Looking up the job",
    Phase.SUBMITTING: "Submitting",
    Phase.QUEUED: "Queued",
    Phase.PROCESSING: "Processing",
    Phase.DOWNLOADING: "Downloading",
    Phase.COMPLETED: "Completed",
    Phase.FAILED: "Failed",
    STOPPED: "Stopped waiting",
    ERROR: "Error",
}

#: The counts in a gallery's summary ("3 videos · 1 completed · 2 running"): completed
#: runs, active runs not waiting for a slot, runs waiting for one, failed runs (``failed``
#: or ``error``) and stopped ones.
TALLY_WORDS: dict[str, str] = {
    "completed": "completed",
    "running": "running",
    WAITING: "waiting for a slot",
    "failed": "failed",
    STOPPED: "stopped",
}

#: A pending job's last known status (the journal's), in the banner that offers to
#: resume the jobs of an earlier session.
PENDING_STATUS_WORDS: dict[str, str] = {
    JobStatus.QUEUED.value: "queued",
    JobStatus.PROCESSING.value: "processing",
    JobStatus.COMPLETED.value: "done, not downloaded yet",
}
