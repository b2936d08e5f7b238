"""The misbehaving server of :mod:`tests.hostile.fake_api`, one per behaviour a test asks
for, stopped after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.hostile.fake_api import FakeApi


@pytest.fixture
def api() -> Iterator[Callable[..., FakeApi]]:
    """``api(submit=…, status=…, video=…)`` starts a fake API with that behaviour."""
    servers: list[FakeApi] = []

    def start(**behaviour: str) -> FakeApi:
        server = FakeApi(**behaviour).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
