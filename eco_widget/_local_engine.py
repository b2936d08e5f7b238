"""``base_url="local"``: the local server with the Wan2.1 backend, in this process.

For machines with a GPU (a workstation, a Colab GPU runtime): the same client, widget
and magic make real videos with no API key. The server runs on 127.0.0.1 in a
background thread like the sandbox, with its own data folder and key; the model is
loaded when the first client is made, so a missing extra or missing weights are
reported there, before any job.
"""

from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from ._polling import PollPolicy
from ._sandbox import Sandbox, _sandbox_key

if TYPE_CHECKING:
    from .server import WanRenderer

__all__ = ["LOCAL", "MODEL_ENV", "SIZE_ENV", "get_local", "local_dir", "wan_renderer"]

LOCAL = "local"
MODEL_ENV = "ECOHASH_MODEL"
SIZE_ENV = "ECOHASH_LOCAL_SIZE"
DIR_ENV = "ECOHASH_LOCAL_DIR"
#: The imports of the ``local`` extra.
ENGINE_DEPENDENCIES = frozenset({"torch", "diffusers", "transformers", "accelerate"})
_EXTRA = (
    "install torch for your machine first (https://pytorch.org; CPU: pip install "
    "torch==2.13.0), then: pip install 'eco_widget[local]'"
)

_lock = threading.Lock()
_local: Sandbox | None = None


def local_dir() -> Path:
    """The local engine's data folder (``ECOHASH_LOCAL_DIR`` overrides it)."""
    custom = os.environ.get(DIR_ENV)
    if custom:
        return Path(custom).expanduser()
    return Path(platformdirs.user_cache_dir("eco_widget", appauthor=False)) / "local"


def parse_size(text: str) -> tuple[int, int]:
    """``"832x480"`` → ``(832, 480)``; raises ``ValueError`` naming what is accepted."""
    width, sep, height = text.strip().lower().partition("x")
    if sep and width.isdigit() and height.isdigit():
        size = int(width), int(height)
        if all(value >= 16 and value % 16 == 0 for value in size):
            return size
    raise ValueError(f"a size is WxH with multiples of 16, such as 832x480; got {text!r}")


def wan_renderer(
    model: str | None = None, size: tuple[int, int] | None = None
) -> WanRenderer:
    """A :class:`~eco_widget.server.WanRenderer` for ``model`` (default
    ``ECOHASH_MODEL``, else the published weights) at ``size`` (default
    ``ECOHASH_LOCAL_SIZE``, else 832x480). Raises ``ImportError`` with the install
    command when the ``local`` extra is missing."""
    missing = [name for name in sorted(ENGINE_DEPENDENCIES) if not _importable(name)]
    if missing:
        raise ImportError(
            f"the local Wan2.1 engine needs {', '.join(missing)}: {_EXTRA}", name=missing[0]
        )
    from .server import WanRenderer  # lazily: the server and its renderers are heavy
    from .server._wan import DEFAULT_MODEL

    if size is None:
        size = parse_size(os.environ.get(SIZE_ENV) or "832x480")
    width, height = size
    return WanRenderer(
        model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL, width=width, height=height
    )


def _importable(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


def get_local() -> Sandbox:
    """Start the local engine on first call (loading the model); return it on every
    call."""
    global _local
    with _lock:
        if _local is not None:
            return _local
        renderer = wan_renderer()
        renderer.load()
        from .server import ServerConfig, ThreadedServer

        data_dir = local_dir()
        data_dir.mkdir(parents=True, exist_ok=True)
        key = _sandbox_key(data_dir)
        config = ServerConfig(
            api_keys=(key,), data_dir=data_dir, profile="instant", renderer=renderer
        )
        server = ThreadedServer(config, host="127.0.0.1", port=0)
        server.start()
        atexit.register(server.stop)
        _local = Sandbox(server.url, key, "wan", data_dir, PollPolicy())
        return _local
