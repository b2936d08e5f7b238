"""Drive JupyterLab and Notebook 7 in Chromium: servers, notebooks, kernels, screenshots.

A :class:`JupyterServer` is a ``jupyter lab`` or ``jupyter notebook`` subprocess on a
loopback port with private config, runtime, settings and workspaces folders. A
:class:`NotebookSession` is one notebook opened in one Playwright page of that server;
it talks to the application through ``window.jupyterapp`` (exposed by
``expose_app_in_browser``).
"""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import nbformat

from tests.waiting import deadline_wait

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "HARMLESS_PAGE_ERRORS",
    "JOB_ID",
    "PROCESSING",
    "QUEUED",
    "Generation",
    "JupyterServer",
    "Kind",
    "NotebookSession",
    "PageErrors",
    "VideoWidgetView",
    "chromium_missing_message",
    "deadline_wait",
    "free_port",
    "screenshots_dir",
    "write_notebook",
]

Kind = Literal["lab", "notebook"]

CHROMIUM = "/usr/bin/chromium"
#: What the API's job ids look like.
JOB_ID = re.compile(r"vid_[0-9a-f]{24}")
QUEUED = re.compile(r"\bQueued\b")
PROCESSING = re.compile(r"\bProcessing\b")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    "--autoplay-policy=no-user-gesture-required",
)
#: Page errors that Notebook 7 logs at load on a healthy page.
HARMLESS_PAGE_ERRORS = ("Cannot read properties of undefined (reading 'schema')",)

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
KERNEL_TIMEOUT = 60_000
OUTPUT_TIMEOUT = 60_000

#: Off in the test servers: the news popup, and the debugger, whose state requests race
#: a kernel restart ("Canceled future for debug_request") and nothing here debugs.
_DISABLED_EXTENSIONS = (
    "@jupyterlab/apputils-extension:announcements",
    "@jupyterlab/debugger-extension",
)
#: JupyterLab user settings written for every server: widget state is saved with the
#: notebook, and nothing asks questions or autosaves behind the test's back.
_USER_SETTINGS = {
    "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings": {"saveState": True},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def screenshots_dir(default: Path) -> Path:
    """The folder for screenshots: ``$ECO_SCREENSHOTS``, else ``default``."""
    folder = Path(os.environ.get("ECO_SCREENSHOTS") or default)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_notebook(path: Path, cells: Iterable[str]) -> Path:
    """Write a notebook of code cells (no outputs) with the python3 kernel."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


@dataclass
class JupyterServer:
    """A ``jupyter lab`` or ``jupyter notebook`` server running in a subprocess."""

    kind: Kind
    root_dir: Path
    home: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen[bytes] | None = None
    started_in: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    @classmethod
    def create(
        cls,
        kind: Kind,
        home: Path,
        extra_env: Mapping[str, str | None] | None = None,
        user_settings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> JupyterServer:
        """Prepare private folders under ``home`` and the environment of the server.

        ``extra_env`` adds variables; a value of ``None`` removes one. ``user_settings``
        adds JupyterLab user settings: file name under the settings folder (e.g.
        ``"@jupyterlab/apputils-extension/kernels-settings.jupyterlab-settings"``) →
        values, merged over the test servers' own.
        """
        config_dir = home / "config"
        (config_dir / "labconfig").mkdir(parents=True, exist_ok=True)
        (config_dir / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": dict.fromkeys(_DISABLED_EXTENSIONS, True)})
        )
        settings_dir = home / "settings"
        settings = {name: dict(values) for name, values in _USER_SETTINGS.items()}
        for name, values in (user_settings or {}).items():
            settings.setdefault(name, {}).update(values)
        for name, values in settings.items():
            target = settings_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        root_dir = home / "notebooks"
        root_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(config_dir),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
            JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
            PYTHONUNBUFFERED="1",
        )
        for name, value in (extra_env or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return cls(kind=kind, root_dir=root_dir, home=home, env=env)

    def command(self) -> list[str]:
        """The server's command line: loopback only, a fixed port and token, no browser,
        no news or update checks, the app exposed as ``window.jupyterapp``."""
        args = [
            sys.executable,
            "-m",
            "jupyterlab" if self.kind == "lab" else "notebook",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.extension_manager=readonly",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.workspaces_dir={self.home / 'workspaces'}",
        ]
        if self.kind == "notebook":
            args += [
                "--JupyterNotebookApp.expose_app_in_browser=True",
                f"--JupyterNotebookApp.workspaces_dir={self.home / 'workspaces'}",
            ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--allow-root")
        return args

    def start(self) -> JupyterServer:
        """Start the server and wait until ``/api/status`` answers."""
        began = time.monotonic()
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command(),
            env=self.env,
            cwd=self.root_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        try:
            deadline_wait(self._answers, STARTUP_TIMEOUT, f"jupyter {self.kind} to answer")
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(
                f"jupyter {self.kind} exited with {self.process.returncode}:\n{self.log()}"
            )
        try:
            with urllib.request.urlopen(
                f"{self.url}/api/status?token={self.token}", timeout=2
            ) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """Terminate the server (its kernels with it); kill it if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)

    def page_url(self, name: str) -> str:
        """The address that opens notebook ``name`` in this server's interface."""
        if self.kind == "lab":
            return f"{self.url}/lab/tree/{name}?reset&token={self.token}"
        return f"{self.url}/notebooks/{name}?token={self.token}"

    def api(self, path: str) -> Any:
        """GET ``/api/<path>`` and return the decoded JSON."""
        with urllib.request.urlopen(f"{self.url}/api/{path}?token={self.token}") as response:
            return json.loads(response.read())

    def notebook(self, name: str, cells: Iterable[str]) -> Path:
        """Write notebook ``name`` into the server's root folder."""
        return write_notebook(self.root_dir / name, cells)


@dataclass
class PageErrors:
    """Errors a page reported: uncaught exceptions and ``console.error`` messages."""

    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("pageerror", lambda error: self.page_errors.append(error.stack or str(error)))
        page.on(
            "console",
            lambda message: (
                self.console_errors.append(message.text) if message.type == "error" else None
            ),
        )

    def unexpected(self) -> list[str]:
        """Page and console errors, without the known harmless ones."""
        return [
            error
            for error in [*self.page_errors, *self.console_errors]
            if not any(harmless in error for harmless in HARMLESS_PAGE_ERRORS)
        ]


_KERNEL_JS = """
() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const context = panel && panel.sessionContext;
  const kernel = context && context.session && context.session.kernel;
  return kernel ? kernel.status : null;
}
"""

_EXECUTE_JS = """
async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const began = performance.now();
  let result = null;
  const future = kernel.requestExecute({code, silent: false, store_history: false});
  future.onIOPub = (msg) => {
    if (msg.header.msg_type === 'execute_result') {
      result = msg.content.data['text/plain'];
    }
  };
  const reply = await future.done;
  return {status: reply.content.status, result, ms: performance.now() - began};
}
"""

_WIDGET_STATE_JS = """
async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  const seen = new Set();
  const managers = [];
  const visit = (widget) => {
    if (!widget || seen.has(widget)) return;
    seen.add(widget);
    const delegate = widget._manager;
    if (delegate && delegate.promise) managers.push(delegate.promise);
    for (const child of widget.widgets || []) visit(child);
  };
  for (const cell of panel.content.widgets) visit(cell.outputArea);
  const states = [];
  for (const promise of managers) {
    const manager = await promise;
    states.push(await manager.get_state());
  }
  return states;
}
"""


@dataclass
class NotebookSession:
    """One notebook of ``server`` opened in Playwright ``page``."""

    server: JupyterServer
    page: Any
    name: str
    shots: Path

    @property
    def path(self) -> Path:
        return self.server.root_dir / self.name

    def open(self) -> NotebookSession:
        """Load the notebook page and wait until its kernel is idle."""
        self.page.goto(self.server.page_url(self.name))
        self.wait_kernel_idle()
        return self

    def reload(self) -> None:
        """Reload the browser page (the kernel keeps running) and wait for the kernel."""
        self.page.reload()
        self.wait_kernel_idle()

    def kernel_status(self) -> str | None:
        """The kernel's status as the page sees it (``idle``, ``busy``…), or ``None``."""
        return self.page.evaluate(_KERNEL_JS)

    def wait_kernel_idle(self, timeout: float = KERNEL_TIMEOUT) -> None:
        self.page.wait_for_function(
            f"() => ({_KERNEL_JS.strip()})() === 'idle'", timeout=timeout, polling=100
        )

    def command(self, command: str, args: Mapping[str, Any] | None = None) -> Any:
        """Run an application command (``jupyterapp.commands.execute``)."""
        return self.page.evaluate(
            "([command, args]) => window.jupyterapp.commands.execute(command, args)"
            ".then(() => null)",
            [command, dict(args or {})],
        )

    def run_all(self) -> None:
        """Run every cell, as the "Run All Cells" menu entry does."""
        self.command("notebook:run-all-cells")

    def cell(self, index: int) -> Any:
        """The locator of code cell ``index`` (0-based)."""
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def wait_output(self, index: int, selector: str | None = None) -> Any:
        """Wait until cell ``index`` shows an output (containing ``selector``); return it."""
        output = self.cell(index).locator(".jp-OutputArea-output")
        if selector is not None:
            output = output.locator(selector)
        output.first.wait_for(state="visible", timeout=OUTPUT_TIMEOUT)
        return output.first

    def execute(self, code: str) -> dict[str, Any]:
        """Execute ``code`` on the notebook's kernel from the page, outside any cell.

        Returns ``{"status", "result", "ms"}``: the reply status, the ``text/plain``
        result and the round trip in milliseconds.
        """
        return self.page.evaluate(_EXECUTE_JS, code)

    def save(self) -> dict[str, Any]:
        """Save the notebook (``docmanager:save``) and return the file as written."""
        before = self.path.stat().st_mtime_ns
        self.command("docmanager:save")
        deadline_wait(
            lambda: (
                self.path.stat().st_mtime_ns != before
                and self.page.evaluate(
                    "() => !window.jupyterapp.shell.currentWidget.context.model.dirty"
                )
            ),
            OUTPUT_TIMEOUT / 1000,
            f"{self.name} to be saved",
        )
        return self.read_saved()

    def read_saved(self) -> dict[str, Any]:
        return json.loads(self.path.read_text(encoding="utf-8"))

    def set_theme(self, theme: str) -> None:
        """Switch to ``theme`` (e.g. ``"JupyterLab Dark"``); wait until it applies and
        JupyterLab's splash screen, shown while a theme loads, is gone again."""
        self.command("apputils:change-theme", {"theme": theme})
        self.page.wait_for_function(
            "(theme) => document.body.dataset.jpThemeName === theme"
            " && !document.getElementById('jupyterlab-splash')",
            arg=theme,
        )

    def widget_states(self) -> list[dict[str, Any]]:
        """``get_state()`` of every widget manager that rendered an output in the notebook."""
        return self.page.evaluate(_WIDGET_STATE_JS)

    def screenshot(self, locator: Any, name: str) -> Path:
        """Save a PNG of ``locator`` as ``<kind>-<name>.png`` in the screenshots folder."""
        target = self.shots / f"{self.server.kind}-{name}.png"
        locator.scroll_into_view_if_needed()
        locator.screenshot(path=str(target), animations="disabled")
        return target


_RECORD_TEXTS_JS = """
(root) => {
  window.__ecoTexts = [root.innerText];
  const record = () => {
    const text = root.innerText;
    if (window.__ecoTexts[window.__ecoTexts.length - 1] !== text) {
      window.__ecoTexts.push(text);
    }
  };
  window.__ecoObserver = new MutationObserver(record);
  window.__ecoObserver.observe(root, {
    subtree: true, childList: true, characterData: true, attributes: true,
  });
}
"""

_VIDEO_JS = """
(root) => {
  const video = root.querySelector('video');
  if (!video) return null;
  const box = video.getBoundingClientRect();
  return {
    readyState: video.readyState,
    videoWidth: video.videoWidth,
    videoHeight: video.videoHeight,
    width: box.width,
    height: box.height,
    src: video.currentSrc || video.src,
  };
}
"""


@dataclass
class VideoWidgetView:
    """The ``.eco-widget`` element of an ``eco_widget.VideoWidget`` output, and the kernel
    variable (``name``) that holds the widget."""

    notebook: NotebookSession
    name: str = "w"

    @property
    def page(self) -> Any:
        return self.notebook.page

    @property
    def root(self) -> Any:
        return self.page.locator(".eco-widget").first

    @property
    def prompt(self) -> Any:
        return self.root.get_by_role("textbox", name="Prompt")

    @property
    def generate_button(self) -> Any:
        return self.root.get_by_role("button", name="Generate", exact=True)

    def wait_rendered(self) -> VideoWidgetView:
        self.root.wait_for(state="visible", timeout=OUTPUT_TIMEOUT)
        self.prompt.wait_for(state="visible")
        return self

    def generate(self, prompt: str) -> None:
        """Type ``prompt`` in the form and press Generate."""
        self.prompt.fill(prompt)
        self.generate_button.click()

    def record_texts(self) -> None:
        """From now on, keep every distinct ``innerText`` the widget shows (read back with
        :meth:`seen_texts`), so short-lived states are not missed."""
        self.root.evaluate(_RECORD_TEXTS_JS)

    def seen_texts(self) -> list[str]:
        return self.page.evaluate("() => window.__ecoTexts || []")

    def wait_text(self, pattern: re.Pattern[str] | str, timeout: float = OUTPUT_TIMEOUT) -> Any:
        """Wait until the widget shows ``pattern``; return the first matching element."""
        match = self.root.get_by_text(pattern).first
        match.wait_for(state="visible", timeout=timeout)
        return match

    def video(self) -> dict[str, Any] | None:
        """The ``<video>``'s state: readyState, natural and rendered size, source."""
        return self.root.evaluate(_VIDEO_JS)

    def wait_video_playable(self, timeout: float = OUTPUT_TIMEOUT) -> dict[str, Any]:
        """Wait until the widget's ``<video>`` can play (``readyState >= 2`` and a
        decoded frame size); return its state."""
        self.page.wait_for_function(
            "() => { const v = document.querySelector('.eco-widget video');"
            " return !!v && v.readyState >= 2 && v.videoWidth > 0; }",
            timeout=timeout,
            polling=100,
        )
        state = self.video()
        assert state is not None
        return state

    def job_ids(self) -> list[str]:
        """The job ids the widget shows, in order, without repeats."""
        return list(dict.fromkeys(JOB_ID.findall(self.root.inner_text())))

    def kernel_value(self, expression: str) -> Any:
        """Evaluate ``expression`` on the kernel (``w`` is the widget), outside any cell,
        and return its value through JSON."""
        reply = self.notebook.execute(f"__import__('json').dumps({expression})")
        assert reply["status"] == "ok", reply
        return json.loads(ast.literal_eval(reply["result"]))

    def run_count(self) -> int:
        return self.kernel_value(f"len({self.name}.runs)")

    def generate_and_follow(
        self, prompt: str, while_running: Callable[[], Any] | None = None
    ) -> Generation:
        """Press Generate with ``prompt`` and follow the job to a playable video.

        As soon as the widget shows the processing phase, the kernel's status is read
        from the page and the kernel is asked for ``[1 + 1, w.status]``; then
        ``while_running`` is called (e.g. to take a screenshot).
        """
        self.record_texts()
        self.generate(prompt)
        self.wait_text(PROCESSING)
        status = self.notebook.kernel_status()
        answer = self.kernel_value(f"[1 + 1, {self.name}.status]")
        if while_running is not None:
            while_running()
        video = self.wait_video_playable()
        return Generation(
            texts=self.seen_texts(),
            kernel_status_while_processing=status,
            answer_while_running=answer,
            video=video,
            job_ids=self.job_ids(),
        )


@dataclass(frozen=True)
class Generation:
    """What :meth:`VideoWidgetView.generate_and_follow` observed."""

    texts: list[str]
    kernel_status_while_processing: str | None
    answer_while_running: list[Any]
    video: dict[str, Any]
    job_ids: list[str]

    def showed_in_order(self, *patterns: re.Pattern[str]) -> bool:
        """Whether the widget showed texts matching ``patterns``, in this order."""
        texts = iter(self.texts)
        return all(any(pattern.search(text) for text in texts) for pattern in patterns)


def chromium_missing_message() -> str | None:
    """Why the browser cannot start, or ``None`` when ``/usr/bin/chromium`` is there."""
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return None
    found = shutil.which("chromium")
    hint = f" (found {found} on PATH)" if found else ""
    return (
        f"{CHROMIUM} is missing{hint}: the browser tests need Debian's Chromium. "
        "Install it with: apt-get install -y chromium"
    )
