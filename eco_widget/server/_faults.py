"""Fault injection: an ASGI middleware that makes the server misbehave on purpose.

It also counts requests per key (see :class:`ServerStats`), faulted or not, so that a
test can tell what reached the server. Only the three API routes are touched: the
submit, the job GET and the video GET; never ``/openapi.json`` nor the stats route.

The rolls come from a seeded generator, and every GET that is not part of a 429 burst
draws the same four numbers whatever happens, so a run is reproducible given the seed
and the order of requests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Callable
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._config import FaultConfig
from ._stats import ServerStats

__all__ = ["FaultMiddleware", "InjectedDisconnect", "RouteKind", "classify"]

RouteKind = Literal["posts", "job_gets", "video_gets"]

_JOB_PATH = re.compile(r"^/v1/video/generations/[^/]+$")
_VIDEO_PATH = re.compile(r"^/v1/videos/([^/]+)\.mp4$")


def classify(method: str, path: str) -> RouteKind | None:
    """Which API route a request is for, or ``None`` for anything else."""
    if method == "POST" and path == "/v1/video/generations":
        return "posts"
    if method == "GET" and _JOB_PATH.match(path):
        return "job_gets"
    if method == "GET" and _VIDEO_PATH.match(path):
        return "video_gets"
    return None


def video_job_id(path: str) -> str | None:
    match = _VIDEO_PATH.match(path)
    return match.group(1) if match else None


class InjectedDisconnect(Exception):
    """Raised mid-response to make the server drop the connection (a fault, not a bug)."""


class _QuietInjectedDisconnects(logging.Filter):
    """Keeps the server log free of the tracebacks of injected drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, InjectedDisconnect)


_QUIET = _QuietInjectedDisconnects()


class FaultMiddleware:
    """Injects the faults of a :class:`FaultConfig` and counts requests.

    ``account`` maps a request to the key hash it counts for (``None``: no valid key).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        faults: FaultConfig,
        rng: random.Random,
        stats: ServerStats,
        account: Callable[[Scope, RouteKind], str | None],
    ) -> None:
        self.app = app
        self.faults = faults
        self.rng = rng
        self.stats = stats
        self.account = account
        self._since_burst: dict[str, int] = {}
        self._burst_left: dict[str, int] = {}
        logging.getLogger("uvicorn.error").addFilter(_QUIET)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = classify(scope["method"], scope["path"])
        if kind is None:
            await self.app(scope, receive, send)
            return
        key_hash = self.account(scope, kind)
        self.stats.record_request(key_hash, kind)
        faults = self.faults
        if kind == "posts":
            self._count_api_request(key_hash)
            if faults.post_drop_rate and self.rng.random() < faults.post_drop_rate:
                self.stats.record_fault(key_hash, "post_drop")
                await self.app(scope, receive, self._dropping(send))
                return
            await self.app(scope, receive, send)
            return

        if kind == "job_gets" and self._in_burst(key_hash):
            self.stats.record_fault(key_hash, "burst_429")
            await _send_error(
                send,
                429,
                "rate_limit_error",
                "Too many requests: slow down and retry after 1 s (sandbox fault injection).",
                retry_after=1,
            )
            return
        if kind == "job_gets":
            self._count_api_request(key_hash)

        error_roll, status_roll, slow_roll, drop_roll = (self.rng.random() for _ in range(4))
        if error_roll < faults.error_rate:
            self.stats.record_fault(key_hash, "server_error")
            status = 500 if status_roll < 0.5 else 503
            message = (
                "The server is temporarily unavailable; retry shortly."
                if status == 503
                else "The server hit an internal error; retry the request."
            )
            await _send_error(
                send,
                status,
                "server_error",
                f"{message} (sandbox fault injection)",
                retry_after=1 if status == 503 else None,
            )
            return
        if slow_roll < faults.slow_rate and faults.slow_seconds > 0:
            self.stats.record_fault(key_hash, "slow")
            await asyncio.sleep(faults.slow_seconds)
        if drop_roll < faults.drop_rate:
            self.stats.record_fault(key_hash, "drop")
            send = self._dropping(send)
        await self.app(scope, receive, send)

    def _count_api_request(self, key_hash: str | None) -> None:
        """After every N API requests of a key, arm a burst of M 429s for its GETs."""
        every, length = self.faults.burst_429_every, self.faults.burst_429_length
        if key_hash is None or not every or not length:
            return
        count = self._since_burst.get(key_hash, 0) + 1
        if count >= every:
            count = 0
            self._burst_left[key_hash] = length
        self._since_burst[key_hash] = count

    def _in_burst(self, key_hash: str | None) -> bool:
        if key_hash is None or not self._burst_left.get(key_hash):
            return False
        self._burst_left[key_hash] -= 1
        return True

    @staticmethod
    def _dropping(send: Send) -> Send:
        """A ``send`` that lets the response start and half of the first body chunk
        through, then raises: the server closes the connection mid-body."""

        async def dropping_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                await send(
                    {
                        "type": "http.response.body",
                        "body": body[: len(body) // 2],
                        "more_body": True,
                    }
                )
                raise InjectedDisconnect("connection dropped (sandbox fault injection)")
            await send(message)

        return dropping_send


async def _send_error(
    send: Send, status: int, type: str, message: str, *, retry_after: int | None
) -> None:
    body = json.dumps({"error": {"type": type, "message": message}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
