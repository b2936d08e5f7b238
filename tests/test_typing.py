"""The public API's types: tests/typing/public_api.py type-checks as it says (mypy) —
``download()`` gives ``bytes`` without a path and a ``Path`` with one; ``Client``'s
callbacks are plain functions (a coroutine function is a type error there) while
``AsyncClient`` takes both. At run time, ``Client`` refuses a coroutine function before
anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from eco_widget import AsyncClient, Client, InvalidParameterError
from tests.conftest import KEY

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_public_api_types_check_as_promised(tmp_path):
    from mypy import api

    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--warn-unused-ignores",
            "--follow-imports=silent",
            "--strict",
            str(ROOT / "tests" / "typing" / "public_api.py"),
        ]
    )
    assert status == 0, stdout + stderr


@pytest.mark.parametrize("callback", ["on_update", "on_wait"])
def test_a_coroutine_callback_is_refused_by_client_before_anything_is_sent(
    make_server, tmp_path, callback
):
    async def callback_function(value: object) -> None: ...

    server = make_server()
    client = Client(KEY, base_url=server.url, autosave=tmp_path, journal=False)
    with client, pytest.raises(InvalidParameterError) as caught:
        client.generate("a red balloon", **{callback: callback_function})
    assert caught.value.param == callback
    assert "AsyncClient" in str(caught.value)
    assert server.stats.totals()["requests"]["posts"] == 0


def _unknown_step_flow():
    yield object()  # not a step: a bug in a flow
    return "never"


def test_an_unknown_step_is_an_error_in_the_blocking_shell(tmp_path):
    client = Client(KEY, base_url="http://127.0.0.1:9", autosave=False, journal=False)
    with client, pytest.raises(AssertionError, match="Expected code to be unreachable"):
        client._drive(_unknown_step_flow())


@pytest.mark.anyio
async def test_an_unknown_step_is_an_error_in_the_asyncio_shell(tmp_path):
    async with AsyncClient(
        KEY, base_url="http://127.0.0.1:9", autosave=False, journal=False
    ) as client:
        with pytest.raises(AssertionError, match="Expected code to be unreachable"):
            await client._drive(_unknown_step_flow())
