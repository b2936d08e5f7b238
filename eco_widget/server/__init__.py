"""The local Ecohash video API server: the same contract as the real service.

It backs the embedded sandbox (procedural videos, no GPU) and, with :class:`WanRenderer`
(the ``local`` extra), makes real Wan2.1 videos on your own GPU. It is also the reference
the client is tested against, with fault injection for 5xx, dropped connections, 429s
and slow responses. Starlette and uvicorn are an optional extra
(``pip install eco_widget[sandbox]``); ``import eco_widget`` never imports this package.

::

    from eco_widget.server import ServerConfig, ThreadedServer

    config = ServerConfig(api_keys=("eco_local",), data_dir=Path("~/.cache/eco").expanduser())
    with ThreadedServer(config) as server:
        print(server.url)  # http://127.0.0.1:<port>
"""

from __future__ import annotations

from ._app import create_app
from ._config import FaultConfig, ServerConfig
from ._renderer import Renderer, SandboxRenderer
from ._run import ThreadedServer, serve
from ._wan import WanRenderer, WeightsUnavailableError

__all__ = [
    "FaultConfig",
    "Renderer",
    "SandboxRenderer",
    "ServerConfig",
    "ThreadedServer",
    "WanRenderer",
    "WeightsUnavailableError",
    "create_app",
    "serve",
]
