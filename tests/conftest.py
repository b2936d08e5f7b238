"""Test-wide settings: no test talks to a real service or writes outside its tmp dirs."""

from __future__ import annotations

import os

#: Set as this module is imported, before anything imports huggingface_hub,
#: transformers or diffusers (they read these once, at import): no test reaches the
#: Hugging Face Hub or sends telemetry, and every process a test starts inherits them.
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}
os.environ.update(OFFLINE)

import pytest  # noqa: E402

from eco_widget import PollPolicy  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory):
    """Keep the embedded sandbox's data in a temporary folder, make it fast, and make
    sure no real key or base URL leaks in from the environment."""
    patch = pytest.MonkeyPatch()
    patch.setenv("ECOHASH_SANDBOX_DIR", str(tmp_path_factory.mktemp("sandbox")))
    patch.setenv("ECOHASH_SANDBOX_PROFILE", "instant")
    patch.setenv("ECOHASH_HOME", str(tmp_path_factory.mktemp("home")))
    patch.delenv("ECOHASH_API_KEY", raising=False)
    patch.delenv("ECOHASH_BASE_URL", raising=False)
    yield
    patch.undo()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def make_server(tmp_path):
    """Start real local servers on loopback ports; every one is stopped after the test.

    ``make_server(**config)`` takes :class:`ServerConfig` fields (``api_keys`` defaults to
    two keys, ``profile`` to ``instant``) and returns the running server.
    """
    from eco_widget.server import ServerConfig, ThreadedServer

    servers = []

    def start(**config):
        config.setdefault("api_keys", (KEY, OTHER_KEY))
        config.setdefault("data_dir", tmp_path / "server")
        config.setdefault("profile", "instant")
        config.setdefault("seed", 1)
        server = ThreadedServer(ServerConfig(**config))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


#: Poll priors for servers whose jobs take a fraction of a second.
FAST_POLL = PollPolicy(
    first_poll=0.02,
    min_interval=0.02,
    max_interval=0.2,
    expected_queue=0.05,
    processing_min=0.1,
    processing_max=0.3,
)
KEY = "eco_test_key_a"
OTHER_KEY = "eco_test_key_b"


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
