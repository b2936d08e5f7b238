"""Running the server: ThreadedServer in a thread, serve() in the foreground."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

import eco_widget
from eco_widget.server import ServerConfig, ThreadedServer
from eco_widget.server._jobs import JobRunner
from tests.waiting import line_within

REPO = Path(eco_widget.__file__).resolve().parent.parent
KEY = "eco_runtest_key_55aa"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_threaded_server_binds_loopback_on_a_free_port(tmp_path):
    config = ServerConfig(api_keys=(KEY,), data_dir=tmp_path, profile="instant")
    with ThreadedServer(config) as server:
        url = urlsplit(server.url)
        assert url.hostname == "127.0.0.1"
        assert url.port and url.port > 0
        assert httpx.get(server.url + "/openapi.json").status_code == 200
        assert server.running
        assert KEY not in repr(server)
        assert server.stats.for_key(KEY)["requests"]["posts"] == 0
        assert server.app.state.config is config
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/openapi.json")
    server.stop()  # again: nothing happens


def test_a_server_starts_once(tmp_path):
    server = ThreadedServer(ServerConfig(api_keys=(KEY,), data_dir=tmp_path))
    server.stop()  # before start: nothing happens
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
    server.start()
    try:
        with pytest.raises(RuntimeError, match="only once"):
            server.start()
    finally:
        server.stop()


def test_a_busy_port_is_an_error(tmp_path):
    with ThreadedServer(ServerConfig(api_keys=(KEY,), data_dir=tmp_path / "a")) as first:
        port = urlsplit(first.url).port
        second = ThreadedServer(ServerConfig(api_keys=(KEY,), data_dir=tmp_path / "b"), port=port)
        with pytest.raises(OSError):
            second.start()


def test_a_failed_startup_is_reported(tmp_path, monkeypatch):
    async def broken(self: JobRunner) -> None:
        raise RuntimeError("no database today")

    monkeypatch.setattr(JobRunner, "start", broken)
    server = ThreadedServer(ServerConfig(api_keys=(KEY,), data_dir=tmp_path))
    with pytest.raises(RuntimeError, match="failed to start"):
        server.start()
    server.stop()


def test_serve_prints_the_url_never_the_key(tmp_path):
    script = (
        "from eco_widget.server import ServerConfig, serve\n"
        f"serve(ServerConfig(api_keys=({KEY!r},), data_dir={str(tmp_path)!r}), port=0)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert process.stderr is not None
        line = line_within(process.stderr, 60, "the server to say where it listens")
        url = line.split(" on ", 1)[1].split(";", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        response = httpx.get(url + "/openapi.json", timeout=10)
        assert response.status_code == 200
        submit = httpx.post(
            url + "/v1/video/generations",
            json={"model": "wan21-t2v-1-3b", "prompt": "a kite"},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=10,
        )
        assert submit.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert KEY not in line + out + err


def test_importing_the_package_does_not_import_the_server():
    code = (
        "import sys, eco_widget\n"
        "loaded = [m for m in sys.modules if m.startswith(('eco_widget.server', 'starlette',"
        " 'uvicorn'))]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(), timeout=120)
