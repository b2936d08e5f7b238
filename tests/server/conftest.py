"""Fixtures for the server tests: real servers on loopback ports, spoken to with httpx.

Every wait is a polling loop on an observable condition with a deadline; no test
sleeps to synchronise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from eco_widget._params import VideoParams
from eco_widget.server import ServerConfig, ThreadedServer

SERVER_KEY = "eco_srvtest_0123456789abcdef"
SERVER_OTHER_KEY = "eco_srvtest_fedcba9876543210"
MODEL = "wan21-t2v-1-3b"
DEADLINE = 15.0
POLL_INTERVAL = 0.01


class FakeRenderer:
    """A renderer for tests where the video's content does not matter.

    ``gate``: when set, each render waits for it (to hold a job in ``processing``).
    ``fail``: renders whose prompt contains this text raise.
    """

    def __init__(self, *, gate: threading.Event | None = None, fail: str | None = None) -> None:
        self.gate = gate
        self.fail = fail
        self.calls: list[VideoParams] = []
        self.started = threading.Event()

    @staticmethod
    def video_for(params: VideoParams) -> bytes:
        """Bytes that start like an MP4 (an ``ftyp`` box) and depend on the parameters."""
        payload = f"{params.prompt}|{params.seed}|{params.num_frames}".encode() * 50
        return b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + payload

    def render(self, params: VideoParams, progress: Callable[[float], None]) -> bytes:
        self.calls.append(params)
        progress(0.5)
        self.started.set()
        if self.gate is not None and not self.gate.wait(DEADLINE):
            raise TimeoutError("the test never opened the gate")
        if self.fail is not None and self.fail in params.prompt:
            raise RuntimeError(f"the renderer broke on {params.prompt!r}")
        progress(1.0)
        return self.video_for(params)


@dataclass
class Api:
    """A running server and an httpx client for it, authenticated with ``key``."""

    server: ThreadedServer
    client: httpx.Client
    key: str = SERVER_KEY
    other_key: str = SERVER_OTHER_KEY

    @property
    def url(self) -> str:
        return self.server.url

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def submit(self, key: str | None = None, **body: Any) -> httpx.Response:
        body.setdefault("model", MODEL)
        body.setdefault("prompt", "a red balloon over a mountain at dawn")
        return self.client.post("/v1/video/generations", json=body, headers=self.headers(key))

    def get(self, job_id: str, key: str | None = None) -> httpx.Response:
        return self.client.get(f"/v1/video/generations/{job_id}", headers=self.headers(key))

    def wait(
        self, job_id: str, until: Callable[[dict[str, Any]], bool], timeout: float = DEADLINE
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Poll the job until ``until(job)``; return it and every snapshot seen."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.get(job_id)
            assert response.status_code == 200, response.text
            job = response.json()
            seen.append(job)
            if until(job):
                return job, seen
            time.sleep(POLL_INTERVAL)  # polling: the loop's condition is the server's answer
        raise AssertionError(f"job {job_id} never reached the condition; last: {seen[-1:]}")

    def completed(self, job_id: str, timeout: float = DEADLINE) -> dict[str, Any]:
        job, _ = self.wait(job_id, lambda job: job["status"] in ("completed", "failed"), timeout)
        return job

    def stats(self) -> dict[str, Any]:
        return self.server.stats.for_key(self.key)

    @staticmethod
    def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
        """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("the condition never became true")
            time.sleep(POLL_INTERVAL)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def start_api(data_dir: Path) -> Iterator[Callable[..., Api]]:
    """``start_api(**config)`` starts a server (``ServerConfig`` fields; by default the
    ``instant`` profile, a :class:`FakeRenderer`, two keys, seed 7) and returns an
    :class:`Api`. Everything started is stopped after the test."""
    started: list[Api] = []

    def start(**config: Any) -> Api:
        config.setdefault("api_keys", (SERVER_KEY, SERVER_OTHER_KEY))
        config.setdefault("data_dir", data_dir)
        config.setdefault("profile", "instant")
        config.setdefault("renderer", FakeRenderer())
        config.setdefault("seed", 7)
        server = ThreadedServer(ServerConfig(**config)).start()
        api = Api(server, httpx.Client(base_url=server.url, timeout=DEADLINE))
        started.append(api)
        return api

    yield start
    for api in started:
        api.client.close()
        api.server.stop()


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server for a whole module of tests that only read, or whose jobs do not
    interfere (``max_active_per_key`` is high, so they never hit the 429)."""
    config = ServerConfig(
        api_keys=(SERVER_KEY, SERVER_OTHER_KEY),
        data_dir=tmp_path_factory.mktemp("shared"),
        profile="instant",
        renderer=FakeRenderer(),
        max_active_per_key=10_000,
        seed=7,
    )
    with (
        ThreadedServer(config) as server,
        httpx.Client(base_url=server.url, timeout=DEADLINE) as client,
    ):
        yield Api(server, client)


@pytest.fixture
def fake_renderer() -> type[FakeRenderer]:
    """The :class:`FakeRenderer` class, to build one with a gate or a failure."""
    return FakeRenderer


@pytest.fixture
def api(start_api: Callable[..., Api]) -> Api:
    """A server with the ``instant`` profile and a fake renderer."""
    return start_api()
