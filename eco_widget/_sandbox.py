"""The embedded default: the local server, started in this process on first use.

``Client(base_url="sandbox")`` (or ``ECOHASH_BASE_URL=sandbox``) runs the local server
on 127.0.0.1 on a free port, in a background thread, shared by every client of the
process and stopped at exit. Its data (jobs and videos) lives under the user cache
folder, so finished jobs outlive the process; its key is random, made once and kept
there (readable by this user only).
"""

from __future__ import annotations

import atexit
import os
import secrets
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs

from ._polling import PollPolicy

__all__ = ["SERVER_DEPENDENCIES", "Sandbox", "get_sandbox", "poll_policy_for", "sandbox_dir"]

PROFILE_ENV = "ECOHASH_SANDBOX_PROFILE"
#: The imports of the ``sandbox`` extra: a missing one means the extra is not installed.
SERVER_DEPENDENCIES = frozenset({"starlette", "uvicorn", "numpy", "av", "PIL"})
_MIN_SANDBOX_INTERVAL = 0.1
DIR_ENV = "ECOHASH_SANDBOX_DIR"


@dataclass(frozen=True)
class Sandbox:
    """A running embedded server."""

    url: str
    api_key: str = field(repr=False)
    profile: str
    data_dir: Path
    poll_policy: PollPolicy


_lock = threading.Lock()
_sandbox: Sandbox | None = None


def sandbox_dir() -> Path:
    """The sandbox's data folder (``ECOHASH_SANDBOX_DIR`` overrides it)."""
    custom = os.environ.get(DIR_ENV)
    if custom:
        return Path(custom).expanduser()
    return Path(platformdirs.user_cache_dir("eco_widget", appauthor=False)) / "sandbox"


def poll_policy_for(profile: str) -> PollPolicy:
    """Poll priors matched to a server profile's own timings."""
    from .server._timing import PROFILE_SECONDS

    seconds = PROFILE_SECONDS[profile]  # type: ignore[index]
    if seconds.processing_max == 0:  # instant: as long as the render, a second or less
        return PollPolicy(
            first_poll=0.05,
            min_interval=0.05,
            max_interval=0.5,
            expected_queue=0.0,
            processing_min=0.2,
            processing_max=1.0,
        )
    scaled = PollPolicy().scaled(seconds.processing_max / PollPolicy().processing_max)
    return replace(
        scaled,
        first_poll=max(_MIN_SANDBOX_INTERVAL, scaled.first_poll),
        min_interval=max(_MIN_SANDBOX_INTERVAL, scaled.min_interval),
        max_interval=max(_MIN_SANDBOX_INTERVAL, scaled.max_interval),
        expected_queue=(seconds.queue_min + seconds.queue_max) / 2,
        processing_min=seconds.processing_min,
        processing_max=seconds.processing_max,
    )


def _sandbox_key(data_dir: Path) -> str:
    path = data_dir / "client.key"
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    key = "eco_sandbox_" + secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key)
    return key


def get_sandbox() -> Sandbox:
    """Start the embedded server on first call; return it on every call."""
    global _sandbox
    with _lock:
        if _sandbox is not None:
            return _sandbox
        try:
            from .server import ServerConfig, ThreadedServer
            from .server._config import PROFILES
        except ImportError as exc:
            if (exc.name or "").split(".")[0] not in SERVER_DEPENDENCIES:
                raise
            raise ImportError(
                f"The sandbox needs the local server's extra ({exc.name} is missing): "
                "pip install 'eco_widget[sandbox]'",
                name=exc.name,
            ) from exc
        profile = os.environ.get(PROFILE_ENV, "fast").strip().lower()
        if profile not in PROFILES:
            raise ValueError(
                f"{PROFILE_ENV}={profile!r} is not a profile: use one of {', '.join(PROFILES)}"
            )
        data_dir = sandbox_dir()
        data_dir.mkdir(parents=True, exist_ok=True)
        key = _sandbox_key(data_dir)
        config = ServerConfig(api_keys=(key,), data_dir=data_dir, profile=profile)
        server = ThreadedServer(config, host="127.0.0.1", port=0)
        server.start()
        atexit.register(server.stop)
        _sandbox = Sandbox(server.url, key, profile, data_dir, poll_policy_for(profile))
        return _sandbox
