"""The custom messages a widget sends to its front end, recorded and awaitable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

Message = tuple[dict[str, Any], list[Any]]


class SentMessages:
    """Replaces ``widget.send``: keeps every message, in order; :meth:`wait_for` waits
    (with a deadline) until one matches."""

    def __init__(self, widget: Any):
        self.sent: list[Message] = []
        self._arrived = asyncio.Event()
        widget.send = self._send

    def _send(self, content: dict[str, Any], buffers: list[Any] | None = None) -> None:
        self.sent.append((content, buffers or []))
        self._arrived.set()

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> Message:
        """The first message whose content matches (waiting for it if need be)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for message in self.sent:
                if match(message[0]):
                    return message
            self._arrived.clear()
            await asyncio.wait_for(self._arrived.wait(), max(0.0, deadline - loop.time()))

    async def answer(self, request: str, timeout: float = 30.0) -> dict[str, Any]:
        """The answer to request ``request``."""
        content, _ = await self.wait_for(
            lambda m: m.get("type") == "answer" and m.get("request") == request, timeout
        )
        return content
