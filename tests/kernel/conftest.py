"""Real ipykernels driven by jupyter_client, as a notebook front end drives them.

A :class:`KernelSession` reads the kernel's iopub messages in one place, keeps every
widget's latest synced state and its custom messages, and waits on conditions with a
deadline (never a sleep). Kernels see the embedded sandbox (``ECOHASH_BASE_URL=sandbox``)
with its data and the saved videos in temporary folders, and no ``ECOHASH_API_KEY``.
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

REPO = Path(__file__).resolve().parents[2]
#: Seconds any single wait may take before the test fails with what it saw.
DEADLINE = 30.0


@dataclass
class Execution:
    """What one ``execute_request`` produced."""

    msg_id: str
    reply: dict[str, Any] | None = None
    stdout: str = ""
    stderr: str = ""
    results: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    comm_opens: list[dict[str, Any]] = field(default_factory=list)
    idle: bool = False

    @property
    def done(self) -> bool:
        return self.idle and self.reply is not None

    def check(self) -> Execution:
        """Raise with the kernel's traceback when the cell failed."""
        assert self.reply is not None
        if self.reply["status"] != "ok" or self.errors:
            trace = "\n".join(
                "\n".join(error.get("traceback", [])) for error in self.errors or [self.reply]
            )
            raise AssertionError(f"the cell failed:\n{trace}\nstdout:\n{self.stdout}")
        return self


@dataclass
class WidgetLog:
    """What the front end would know about one widget model."""

    comm_id: str
    state: dict[str, Any]
    customs: list[tuple[dict[str, Any], list[bytes], dict[str, Any]]] = field(default_factory=list)
    #: Every ``runs`` value the kernel sent, in order.
    runs_history: list[list[dict[str, Any]]] = field(default_factory=list)

    def run(self, key: str) -> dict[str, Any] | None:
        return next((run for run in self.state.get("runs", []) if run["key"] == key), None)


class KernelSession:
    """A started kernel with a blocking client and one iopub reader."""

    def __init__(self, manager: KernelManager, client: BlockingKernelClient, tmp: Path):
        self.manager = manager
        self.client = client
        #: The folder of the kernel's sandbox data (``sandbox/``) and videos (``home/``).
        self.tmp = tmp
        self.widgets: dict[str, WidgetLog] = {}
        self.executions: dict[str, Execution] = {}
        #: ``(msg_type, parent msg_id, content)`` of every iopub message, in order.
        self.log: list[tuple[str, str | None, dict[str, Any]]] = []
        #: Kernel ``status`` changes caused by a parent message: msg_id -> states.
        self.statuses: dict[str, list[str]] = {}

    # -- reading ------------------------------------------------------------------------
    def _handle(self, msg: dict[str, Any]) -> None:
        kind = msg["msg_type"]
        content = msg["content"]
        parent = msg.get("parent_header", {}).get("msg_id")
        self.log.append((kind, parent, content))
        execution = self.executions.get(parent) if parent else None
        if kind == "status":
            self.statuses.setdefault(parent, []).append(content["execution_state"])
            if execution is not None and content["execution_state"] == "idle":
                execution.idle = True
        elif kind == "stream" and execution is not None:
            if content["name"] == "stdout":
                execution.stdout += content["text"]
            else:
                execution.stderr += content["text"]
        elif kind == "execute_result" and execution is not None:
            execution.results.append(content["data"].get("text/plain", ""))
        elif kind == "error" and execution is not None:
            execution.errors.append(content)
        elif kind == "comm_open":
            state = dict(content["data"].get("state", {}))
            widget = self.widgets[content["comm_id"]] = WidgetLog(content["comm_id"], state)
            if "runs" in state:
                widget.runs_history.append(state["runs"])
            if execution is not None:
                execution.comm_opens.append(content)
        elif kind == "comm_msg":
            widget = self.widgets.get(content["comm_id"])
            data = content["data"]
            if widget is None:
                return
            if data.get("method") == "update":
                widget.state.update(data["state"])
                if "runs" in data["state"]:
                    widget.runs_history.append(data["state"]["runs"])
            elif data.get("method") == "custom":
                buffers = [bytes(buffer) for buffer in msg.get("buffers", [])]
                widget.customs.append((data["content"], buffers, data))

    def _drain_shell(self) -> None:
        while True:
            try:
                msg = self.client.get_shell_msg(timeout=0)
            except queue.Empty:
                return
            execution = self.executions.get(msg["parent_header"].get("msg_id"))
            if execution is not None:
                execution.reply = msg["content"]

    def pump_until(self, condition: Callable[[], Any], what: str, timeout: float = DEADLINE):
        """Read iopub (and shell replies) until ``condition()`` is truthy; return it."""
        deadline = time.monotonic() + timeout
        while True:
            self._drain_shell()
            value = condition()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            try:
                msg = self.client.get_iopub_msg(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            self._handle(msg)
            # Handle whatever else is already there before checking again.
            while True:
                try:
                    msg = self.client.get_iopub_msg(timeout=0)
                except queue.Empty:
                    break
                self._handle(msg)
                value = condition()
                if value:
                    return value

    # -- writing ------------------------------------------------------------------------
    def submit(self, code: str) -> Execution:
        """Send an ``execute_request`` without waiting for it."""
        msg_id = self.client.execute(code, store_history=False)
        execution = self.executions[msg_id] = Execution(msg_id)
        return execution

    def execute(self, code: str, timeout: float = DEADLINE) -> Execution:
        """Run ``code`` as a cell; wait for its reply and the kernel's idle; raise on error."""
        execution = self.submit(code)
        self.pump_until(lambda: execution.done, f"the cell {code!r} to finish", timeout)
        return execution.check()

    def widget(self, code: str) -> WidgetLog:
        """Run a cell that shows a VideoWidget; return the log of its model's comm."""
        execution = self.execute(code)
        opened = [c for c in execution.comm_opens if "runs" in c["data"].get("state", {})]
        assert len(opened) == 1, f"expected one VideoWidget comm, got {execution.comm_opens}"
        return self.widgets[opened[0]["comm_id"]]

    def send_custom(self, widget: WidgetLog, content: dict[str, Any]) -> str:
        """Send ``content`` as the front end's ``model.send(content)`` does (ipywidgets
        protocol 2: a ``comm_msg`` on the shell channel); return its msg_id."""
        msg = self.client.session.msg(
            "comm_msg",
            {"comm_id": widget.comm_id, "data": {"method": "custom", "content": content}},
        )
        self.client.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def wait_handled(self, msg_id: str, timeout: float = DEADLINE) -> None:
        """Wait until the kernel went back to idle after handling message ``msg_id``."""
        self.pump_until(
            lambda: "idle" in self.statuses.get(msg_id, []),
            f"the kernel to handle {msg_id}",
            timeout,
        )

    def wait_run(
        self,
        widget: WidgetLog,
        key: str,
        condition: Callable[[dict[str, Any]], Any],
        what: str,
        timeout: float = DEADLINE,
    ) -> dict[str, Any]:
        """Wait until the widget's run ``key`` satisfies ``condition``; return the run."""

        def check() -> dict[str, Any] | None:
            run = widget.run(key)
            return run if run is not None and condition(run) else None

        return self.pump_until(
            check,
            f"run {key} {what} (last: {widget.run(key)}, "
            f"form_error: {widget.state.get('form_error')})",
            timeout,
        )

    def index(self, kind: str, parent: str, **fields: Any) -> int:
        """The position in :attr:`log` of the first ``kind`` message caused by ``parent``
        (whose content has ``fields``)."""
        return next(
            i
            for i, (k, p, content) in enumerate(self.log)
            if k == kind and p == parent and all(content.get(f) == v for f, v in fields.items())
        )

    def first_update(self, widget: WidgetLog, condition: Callable[[dict[str, Any]], Any]) -> int:
        """The position in :attr:`log` of the first ``runs`` update of ``widget`` whose
        newest run satisfies ``condition``."""
        for i, (kind, _, content) in enumerate(self.log):
            if kind != "comm_msg" or content["comm_id"] != widget.comm_id:
                continue
            runs = content["data"].get("state", {}).get("runs")
            if runs and condition(runs[0]):
                return i
        raise AssertionError(f"no such update of {widget.comm_id}")

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def kernel_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The kernel's environment: the embedded sandbox with its data under ``tmp``."""
    env = dict(os.environ)
    env.pop("ECOHASH_API_KEY", None)
    env.update(
        ECOHASH_BASE_URL="sandbox",
        ECOHASH_SANDBOX_PROFILE="fast",
        ECOHASH_SANDBOX_DIR=str(tmp / "sandbox"),
        ECOHASH_HOME=str(tmp / "home"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start_kernel(tmp: Path, **extra_env: str) -> KernelSession:
    manager, client = start_new_kernel(
        kernel_name="python3", env=kernel_env(tmp, **extra_env), cwd=str(REPO)
    )
    return KernelSession(manager, client, tmp)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelSession]:
    """One kernel for the module (each test makes its own widgets), sandbox profile fast."""
    session = start_kernel(tmp_path_factory.mktemp("kernel"))
    yield session
    session.shutdown()


@pytest.fixture
def make_kernel(tmp_path: Path) -> Iterator[Callable[..., KernelSession]]:
    """``make_kernel(**env)``: a kernel of its own, with extra environment variables."""
    sessions: list[KernelSession] = []

    def make(**env: str) -> KernelSession:
        session = start_kernel(tmp_path / f"kernel{len(sessions)}", **env)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.shutdown()
