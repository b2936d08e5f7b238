"""Real-browser fixtures: JupyterLab and Notebook 7 servers, Chromium, one notebook per test.

Servers start once per session and per environment, and are reused across tests;
Chromium starts once per test module; each test opens a fresh notebook in a fresh
browser context, and its kernel is shut down afterwards. The kernels see the embedded
sandbox (``ECOHASH_BASE_URL=sandbox``, profile ``fast``) with its data in a temporary
folder, and no ``ECOHASH_API_KEY``.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.browser.jupyter import (
    CHROMIUM,
    CHROMIUM_ARGS,
    JupyterServer,
    Kind,
    NotebookSession,
    PageErrors,
    chromium_missing_message,
    screenshots_dir,
)

VIEWPORT = {"width": 1400, "height": 1400}
ServerFactory = Callable[..., JupyterServer]

_startup_seconds: list[tuple[str, float]] = []


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """``jupyter_server(kind, env=None, settings=None)`` starts (once per kind, ``env``
    and ``settings``) a server.

    ``kind`` is ``"lab"`` or ``"notebook"`` (Notebook 7). ``env`` adds variables to the
    server's (and so its kernels') environment; a value of ``None`` removes one.
    ``settings`` adds user settings (see :meth:`JupyterServer.create`).
    """
    servers: dict[tuple[Kind, tuple[tuple[str, str | None], ...], str], JupyterServer] = {}

    def start(
        kind: Kind,
        env: Mapping[str, str | None] | None = None,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> JupyterServer:
        key = (
            kind,
            tuple(sorted((env or {}).items())),
            json.dumps(settings or {}, sort_keys=True),
        )
        if key not in servers:
            home = tmp_path_factory.mktemp(f"jupyter-{kind}")
            sandbox = home / "sandbox"
            sandbox.mkdir()
            base_env: dict[str, str | None] = {
                "ECOHASH_BASE_URL": "sandbox",
                "ECOHASH_SANDBOX_PROFILE": "fast",
                "ECOHASH_SANDBOX_DIR": str(sandbox),
                "ECOHASH_HOME": str(home / "ecohash"),
                "ECOHASH_API_KEY": None,
            }
            base_env.update(env or {})
            server = JupyterServer.create(kind, home, base_env, settings)
            servers[key] = server.start()
            _startup_seconds.append((kind, server.started_in))
        return servers[key]

    yield start
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def lab(jupyter_server: ServerFactory) -> JupyterServer:
    """The session's JupyterLab server."""
    return jupyter_server("lab")


@pytest.fixture(scope="session")
def notebook7(jupyter_server: ServerFactory) -> JupyterServer:
    """The session's Notebook 7 server."""
    return jupyter_server("notebook")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright's sync API.

    Module-scoped: the sync API keeps an asyncio loop marked as running in this thread
    for as long as it is started, which would break the ``asyncio``/``anyio`` tests that
    run after the browser tests in the same session."""
    missing = chromium_missing_message()
    if missing:
        pytest.fail(missing, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page_errors() -> PageErrors:
    """The page errors and console errors of the test's page."""
    return PageErrors()


@pytest.fixture
def page(browser, page_errors: PageErrors) -> Iterator[object]:
    """A page in a fresh browser context (1400×1400). The test fails on uncaught page
    errors and console errors other than the known harmless ones."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page_errors.attach(page)
    yield page
    context.close()
    unexpected = page_errors.unexpected()
    if unexpected:
        pytest.fail("errors in the page:\n" + "\n".join(unexpected), pytrace=False)


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The screenshots folder: ``$ECO_SCREENSHOTS`` or a temporary one."""
    return screenshots_dir(tmp_path_factory.mktemp("screenshots"))


@pytest.fixture
def open_notebook(
    request: pytest.FixtureRequest, page, shots: Path
) -> Iterator[Callable[..., NotebookSession]]:
    """``open_notebook(server, cells)`` writes a fresh notebook of ``cells`` named after
    the test, opens it in the test's page and waits for an idle kernel. Afterwards the
    page is closed, then the notebook's kernel is shut down."""
    opened: list[NotebookSession] = []

    def open_(server: JupyterServer, cells: Iterable[str]) -> NotebookSession:
        stem = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")
        name = f"{stem}-{len(opened)}.ipynb"
        server.notebook(name, cells)
        session = NotebookSession(server=server, page=page, name=name, shots=shots)
        opened.append(session)
        return session.open()

    yield open_
    page.context.close()
    for session in opened:
        _shut_down_kernels(session.server, session.name)


def _shut_down_kernels(server: JupyterServer, name: str) -> None:
    for session in server.api("sessions"):
        if session.get("path") == name:
            request = urllib.request.Request(
                f"{server.url}/api/sessions/{session['id']}?token={server.token}",
                method="DELETE",
            )
            with urllib.request.urlopen(request) as response:
                response.read()


def pytest_terminal_summary(terminalreporter) -> None:
    if _startup_seconds:
        terminalreporter.write_sep("-", "jupyter servers")
        for kind, seconds in _startup_seconds:
            terminalreporter.write_line(f"jupyter {kind} answered in {seconds:.1f} s")
