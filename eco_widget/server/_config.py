"""The local server's settings: who may call it, where it keeps jobs, how it behaves."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from ._renderer import Renderer

__all__ = ["PROFILES", "FaultConfig", "Profile", "ServerConfig"]

Profile = Literal["instant", "fast", "realistic"]
PROFILES: tuple[Profile, ...] = ("instant", "fast", "realistic")


def _check_fraction(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number from 0 to 1; got {value!r}.")


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer ≥ 0; got {value!r}.")


def _check_seconds(name: str, value: float, *, positive: bool = False) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and (value > 0 if positive else value >= 0)
    )
    if not ok:
        bound = "> 0" if positive else "≥ 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}.")


def _check_public_url(url: str) -> str:
    """``url`` without its trailing slash, if it is an absolute http(s) URL with no
    query or fragment."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError:  # e.g. an unclosed [IPv6 address
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.query
        or parts.fragment
        or any(ch.isspace() for ch in url)
    ):
        raise ValueError(
            "public_url must be an absolute http:// or https:// URL without query or "
            f"fragment, e.g. https://videos.example.org; got {url!r}."
        )
    return url.rstrip("/")


@dataclass(frozen=True)
class FaultConfig:
    """Faults the server injects, to test how a client copes. All off by default.

    Faults hit only the API and video routes, never ``/openapi.json`` or the stats.

    - ``error_rate``: fraction of GETs (job and video) answered 500 or 503.
    - ``drop_rate``: fraction of GETs whose connection is dropped mid-response.
    - ``slow_rate`` / ``slow_seconds``: fraction of GETs delayed, and by how long.
    - ``burst_429_every`` / ``burst_429_length``: after every N API requests of a key,
      its next M job GETs are answered 429 with ``Retry-After: 1``.
    - ``post_drop_rate``: fraction of submits whose connection is dropped *after* the
      job was created (a client must not blindly submit again).
    """

    error_rate: float = 0.0
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 1.0
    burst_429_every: int = 0
    burst_429_length: int = 0
    post_drop_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_rate", "slow_rate", "post_drop_rate"):
            _check_fraction(name, getattr(self, name))
        _check_seconds("slow_seconds", self.slow_seconds)
        _check_count("burst_429_every", self.burst_429_every)
        _check_count("burst_429_length", self.burst_429_length)

    @property
    def enabled(self) -> bool:
        """True when any fault can happen."""
        return bool(
            self.error_rate
            or self.drop_rate
            or (self.slow_rate and self.slow_seconds)
            or (self.burst_429_every and self.burst_429_length)
            or self.post_drop_rate
        )


@dataclass(frozen=True)
class ServerConfig:
    """Everything :func:`create_app` needs.

    ``api_keys`` are the accepted bearer keys (never shown in ``repr``, never stored:
    the job store keeps a SHA-256 hash). ``data_dir`` holds the job database, the
    videos and the URL-signing secret; several servers may share it. ``profile`` sets
    the timing (``instant``: no waiting beyond the render; ``fast``: a few seconds;
    ``realistic``: like production, 1.5–3 minutes) and ``time_scale`` multiplies it.
    ``url_ttl`` is how long a video URL stays valid after completion, in seconds.
    ``seed`` makes timing and faults reproducible.

    ``public_url`` is the base of the ``video_url`` the server hands out (and of the
    OpenAPI document's server), e.g. ``https://videos.example.org`` behind a proxy; by
    default, the address the server listens on. Never the request's ``Host`` header,
    which any client may set. ``body_timeout`` bounds, in seconds, how long a submit's
    body may take to arrive: a client that announces more than it sends gets a 408 and
    the connection is closed.
    """

    api_keys: tuple[str, ...] = field(repr=False)
    data_dir: Path
    profile: Profile = "fast"
    time_scale: float = 1.0
    url_ttl: float = 86400.0
    max_active_per_key: int = 5
    max_body_bytes: int = 65536
    faults: FaultConfig = field(default_factory=FaultConfig)
    renderer: Renderer | None = None
    seed: int | None = None
    public_url: str | None = None
    body_timeout: float = 10.0

    def __post_init__(self) -> None:
        keys = self.api_keys
        if isinstance(keys, str) or not isinstance(keys, (tuple, list, frozenset, set)):
            raise TypeError("api_keys must be a tuple of key strings, e.g. ('eco_…',).")
        keys = tuple(keys)
        if not keys:
            raise ValueError("api_keys must name at least one key.")
        for key in keys:
            # Never put the key itself in a message.
            if not isinstance(key, str) or not key or any(ch.isspace() for ch in key):
                raise ValueError("each API key must be a non-empty string without spaces.")
        object.__setattr__(self, "api_keys", keys)
        if not isinstance(self.data_dir, (str, os.PathLike)):
            raise TypeError(f"data_dir must be a path; got {type(self.data_dir).__name__}.")
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {self.profile!r}.")
        _check_seconds("time_scale", self.time_scale)
        _check_seconds("url_ttl", self.url_ttl, positive=True)
        for name in ("max_active_per_key", "max_body_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer ≥ 1; got {value!r}.")
        if not isinstance(self.faults, FaultConfig):
            raise TypeError(f"faults must be a FaultConfig; got {type(self.faults).__name__}.")
        if self.renderer is not None and not isinstance(self.renderer, Renderer):
            raise TypeError("renderer must have a render(params, progress) -> bytes method.")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise TypeError(f"seed must be an integer or None; got {self.seed!r}.")
        _check_seconds("body_timeout", self.body_timeout, positive=True)
        if self.public_url is not None:
            object.__setattr__(self, "public_url", _check_public_url(self.public_url))
