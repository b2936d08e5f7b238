"""eco_widget: short videos from text with Wan2.1 T2V 1.3B through the Ecohash video API.

>>> import eco_widget                                           # doctest: +SKIP
>>> client = eco_widget.Client(base_url="sandbox")             # no key needed
>>> video = client.generate("a red balloon floating over a mountain at dawn")
>>> video.save("balloon.mp4"), video.seed

Importing the package is light: the local server, numpy, PyAV and IPython load only
when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    EcoVideoError,
    InvalidParameterError,
    InvalidRequestError,
    JobFailedError,
    JobTimeoutError,
    JournalError,
    MissingAPIKeyError,
    NotFoundError,
    OutputPathError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SlotTimeoutError,
    UnexpectedResponseError,
    VideoExpiredError,
    VideoNotSavedError,
    VideoTooLargeError,
)
from ._models import Job, JobError, JobStatus
from ._params import MODEL, PARAMETERS, VideoParams
from ._polling import PollPolicy
from ._retry import RetryPolicy
from ._version import __version__
from ._video import Video

if TYPE_CHECKING:
    from ._async_client import AsyncClient
    from ._batch import BatchResult
    from ._client import Client
    from ._jobs_table import JobsTable, jobs
    from ._journal import Journal, JournalEntry
    from ._recovery import ResumeResult
    from ._shell import DEFAULT_TIMEOUT
    from ._show import VideoGrid, show_videos
    from ._slots import SlotWait
    from .notebook._gallery import VideoGallery
    from .notebook._widget import VideoWidget

# Loaded on first use, so that importing the package does not import httpx.
_LAZY = {
    "AsyncClient": "._async_client",
    "Client": "._client",
    "DEFAULT_TIMEOUT": "._shell",
    "VideoWidget": ".notebook._widget",
    "VideoGallery": ".notebook._gallery",
    "BatchResult": "._batch",
    "JobsTable": "._jobs_table",
    "jobs": "._jobs_table",
    "Journal": "._journal",
    "JournalEntry": "._journal",
    "ResumeResult": "._recovery",
    "SlotWait": "._slots",
    "VideoGrid": "._show",
    "show_videos": "._show",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'eco_widget' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext eco_widget``: register the ``%ecovideo`` and ``%%ecovideo`` magics."""
    from .notebook._magic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext eco_widget``: remove the magics."""
    from .notebook._magic import unload_ipython_extension as unload

    unload(ipython)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DEFAULT_TIMEOUT",
    "MODEL",
    "PARAMETERS",
    "APIConnectionError",
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "BatchResult",
    "Client",
    "EcoVideoError",
    "InvalidParameterError",
    "InvalidRequestError",
    "Job",
    "JobError",
    "JobFailedError",
    "JobStatus",
    "JobTimeoutError",
    "JobsTable",
    "Journal",
    "JournalEntry",
    "JournalError",
    "MissingAPIKeyError",
    "NotFoundError",
    "OutputPathError",
    "PermissionDeniedError",
    "PollPolicy",
    "RateLimitError",
    "ResumeResult",
    "RetryPolicy",
    "ServerError",
    "SlotTimeoutError",
    "SlotWait",
    "UnexpectedResponseError",
    "Video",
    "VideoExpiredError",
    "VideoGallery",
    "VideoGrid",
    "VideoNotSavedError",
    "VideoParams",
    "VideoTooLargeError",
    "VideoWidget",
    "__version__",
    "jobs",
    "load_ipython_extension",
    "show_videos",
    "unload_ipython_extension",
]
