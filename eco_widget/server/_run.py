"""Running the server with uvicorn: in a background thread (tests, notebooks, the
embedded sandbox) or in the foreground (``ecovideo serve``)."""

from __future__ import annotations

import socket
import sys
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from ._app import create_app, set_listen_url
from ._config import ServerConfig
from ._http import JSONErrorHTTPProtocol
from ._stats import ServerStats

__all__ = ["ThreadedServer", "serve"]

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 30.0
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: any free port).

    Made from ``getaddrinfo``'s answer, protocol included: asyncio sets ``TCP_NODELAY``
    only on sockets whose ``proto`` is TCP, and without it every keep-alive request
    waits ~40 ms for a delayed ACK.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock


def _url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _listening(app: Starlette, host: str, sock: socket.socket) -> str:
    """The server's URL, and the app told of it (the base of its ``video_url``): on a
    wildcard address the app uses each connection's own local address instead."""
    url = _url(host, sock)
    set_listen_url(app, None if host in _WILDCARDS else url)
    return url


def _uvicorn_config(app: Starlette, host: str, log_level: str, access_log: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
        timeout_graceful_shutdown=5,
        http=JSONErrorHTTPProtocol,
    )


class ThreadedServer:
    """The server on a loopback port, run by uvicorn in a daemon thread.

    ::

        with ThreadedServer(ServerConfig(api_keys=("eco_test",), data_dir=tmp)) as server:
            httpx.get(server.url + "/openapi.json")

    ``start()`` returns once the server accepts connections; ``stop()`` shuts it down
    gracefully (unfinished jobs are resumed by the next server on the data directory).
    """

    def __init__(
        self,
        config: ServerConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_level: str = "warning",
        access_log: bool = False,
    ) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.app: Starlette = create_app(config)
        self._server = uvicorn.Server(_uvicorn_config(self.app, host, log_level, access_log))
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = self._url if self.running else "stopped"
        return f"<ThreadedServer {state} profile={self.config.profile!r}>"

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (the port actually bound)."""
        if self._url is None:
            raise RuntimeError("the server is not started: call start() first")
        return self._url

    @property
    def stats(self) -> ServerStats:
        """The request and fault counters (``stats.for_key(key)``)."""
        stats = self.app.state.stats
        assert isinstance(stats, ServerStats)
        return stats

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._server.started

    def start(self, timeout: float = _START_TIMEOUT) -> ThreadedServer:
        """Start serving; return once connections are accepted. Raises ``RuntimeError``
        if the server fails to start within ``timeout`` seconds."""
        if self._thread is not None:
            raise RuntimeError("a ThreadedServer can be started only once")
        self._socket = _bind(self.host, self.port)
        self._url = _listening(self.app, self.host, self._socket)
        self._thread = threading.Thread(
            target=self._run, name=f"eco-server-{self._url}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._close_socket()
                raise RuntimeError(f"the server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start within {timeout:g} s")
            self._thread.join(0.005)
        return self

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket] if self._socket else None)
        except BaseException as exc:  # SystemExit included: uvicorn exits on startup failure
            self._error = exc

    def stop(self, timeout: float = _STOP_TIMEOUT) -> None:
        """Shut down gracefully and join the thread. Safe to call more than once."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._server.should_exit = True
            thread.join(timeout)
            if thread.is_alive():
                self._server.force_exit = True
                thread.join(timeout)
        self._close_socket()

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    config: ServerConfig,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    log_level: str = "warning",
    access_log: bool = False,
) -> None:
    """Serve in the foreground until interrupted (Ctrl+C). Prints the URL, never a key."""
    app = create_app(config)
    sock = _bind(host, port)
    print(
        f"Ecohash video API (local, profile {config.profile}) on "
        f"{_listening(app, host, sock)}; "
        f"data in {config.data_dir}. Press Ctrl+C to stop.",
        file=sys.stderr,
        flush=True,
    )
    try:
        uvicorn.Server(_uvicorn_config(app, host, log_level, access_log)).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn shut down gracefully, then re-raised the Ctrl+C it had captured
    finally:
        sock.close()
