"""ASGI layers around the Starlette application: request ids on every response, and
connections kept open after an unexpected error whose 500 was already sent."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["KeepConnection", "LayeredStarlette", "RequestId"]

logger = logging.getLogger("eco_widget.server")


class RequestId:
    """Adds an ``x-request-id`` header to every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req_{secrets.token_hex(12)}".encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id)]
            await send(message)

        await self.app(scope, receive, send_with_id)


class KeepConnection:
    """Keeps the connection open after an unexpected error whose 500 was already sent.

    Starlette sends the 500 and re-raises, and uvicorn then closes the connection,
    which a client reusing it sees as a reset. Once the response is complete there is
    nothing left to protect: log the error and return. An error in the middle of a
    response (an injected drop included) is re-raised, so that uvicorn closes the
    connection and the client sees the response is incomplete.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        complete = False

        async def tracking_send(message: Message) -> None:
            nonlocal complete
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                complete = True

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if not complete or scope["type"] != "http":
                raise
            logger.exception("unexpected error in %s %s", scope["method"], scope["path"])


class LayeredStarlette(Starlette):
    """Starlette with outer layers (request id, faults) *outside* its error middleware,
    so that even an unexpected 500 carries a request id."""

    def __init__(self, *, wrap: Callable[[ASGIApp], ASGIApp], **kwargs: Any) -> None:
        self._wrap = wrap
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return self._wrap(super().build_middleware_stack())
