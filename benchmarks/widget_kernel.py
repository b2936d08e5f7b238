"""Does the kernel stay responsive while widgets follow jobs? And what does a video cost
on the wire between the kernel and the front end?

In a real ipykernel driven by jupyter_client (as a notebook front end drives it), prints
the round trip of a trivial cell (``1+1``: execute request → reply) sampled every
``--spacing`` seconds:

- with no jobs;
- while 5 VideoWidgets, each started by the front end's ``generate`` message, wait for
  their jobs, poll, download and save — against the local server in a process of its own (the
  ``realistic`` profile × ``--scale``, the client's poll schedule scaled the same), so
  the figures are the widget's own cost;
- the same with the embedded sandbox (``ECOHASH_BASE_URL=sandbox``, profile ``fast``),
  whose renderer runs in the kernel's own process;
- 5 widget jobs (embedded sandbox, whose jobs change status within those seconds)
  while another process holds the job journal's write lock (``BEGIN IMMEDIATE``) for
  2 s, twice, from just after the jobs were submitted: the jobs' journal writes wait,
  the kernel should not;
- the naive alternative: a cell that blocks on ``Client.generate()`` (a synchronous
  client sleeping between polls), with ``1+1`` sent just after it.

Then the delivery ratio of one 81-frame video asked for with ``{"type": "video"}``: the
bytes of the comm message (binary buffer + JSON) over the file's size, next to the
same video embedded as base64 (``IPython.display.Video(embed=True)``).

    python benchmarks/widget_kernel.py [--samples 30] [--scale 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from jupyter_client.manager import start_new_kernel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.journal_lock import JournalLock

KEY = "eco_bench_widget_kernel"
JOBS = 5
FRAMES = 81
#: Seconds the other process holds the journal's write lock, each of the two times.
HOLD = 2.0
REPO = Path(__file__).resolve().parents[1]


class Kernel:
    """A kernel, its blocking client, and the widgets' latest ``runs`` from iopub."""

    def __init__(self, env: dict[str, str]):
        self.manager, self.client = start_new_kernel(kernel_name="python3", env=env, cwd=str(REPO))
        self.runs: dict[str, list[dict[str, Any]]] = {}
        self.customs: list[dict[str, Any]] = []
        self.results: dict[str, dict[str, Any]] = {}
        self.replies: dict[str, dict[str, Any]] = {}

    def _handle(self, msg: dict[str, Any]) -> None:
        content = msg["content"]
        kind = msg["msg_type"]
        if kind == "comm_open" and "runs" in content["data"].get("state", {}):
            self.runs[content["comm_id"]] = content["data"]["state"]["runs"]
        elif kind == "comm_msg" and content["comm_id"] in self.runs:
            data = content["data"]
            if data.get("method") == "update" and "runs" in data["state"]:
                self.runs[content["comm_id"]] = data["state"]["runs"]
            elif data.get("method") == "custom":
                self.customs.append(msg)
        elif kind in ("execute_result", "display_data", "error"):
            self.results[msg["parent_header"]["msg_id"]] = msg

    def listen(self, seconds: float) -> None:
        """Handle the kernel's iopub messages for ``seconds`` (the pause between two
        samples), or until none comes in time."""
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            try:
                self._handle(self.client.get_iopub_msg(timeout=until - time.monotonic()))
            except queue.Empty:
                return

    def drain(self) -> None:
        """Read every iopub message already there."""
        while True:
            try:
                self._handle(self.client.get_iopub_msg(timeout=0))
            except queue.Empty:
                return

    def until(self, condition, what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"gave up waiting for {what}")
            with suppress(queue.Empty):
                self._handle(self.client.get_iopub_msg(timeout=0.1))
            self.drain()

    def execute(self, code: str, timeout: float = 120.0) -> dict[str, Any]:
        """Run a cell; return its reply (raise on error)."""
        msg_id = self.client.execute(code, store_history=False)
        reply = self.reply(msg_id, timeout)
        if reply["content"]["status"] != "ok":
            raise RuntimeError("\n".join(reply["content"].get("traceback", [])))
        return reply

    def reply(self, msg_id: str, timeout: float) -> dict[str, Any]:
        """The shell reply to ``msg_id`` (replies to other requests are kept)."""
        deadline = time.monotonic() + timeout
        while msg_id not in self.replies:
            msg = self.client.get_shell_msg(timeout=max(0.0, deadline - time.monotonic()))
            self.replies[msg["parent_header"].get("msg_id")] = msg
        return self.replies.pop(msg_id)

    def round_trip(self) -> float:
        """Seconds from sending ``1+1`` to its reply."""
        began = time.perf_counter()
        msg_id = self.client.execute("1+1", store_history=False)
        self.reply(msg_id, 120.0)
        return time.perf_counter() - began

    def click(self, comm_id: str, content: dict[str, Any]) -> None:
        """What the front end's ``model.send(content)`` sends."""
        msg = self.client.session.msg(
            "comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": content}}
        )
        self.client.shell_channel.send(msg)

    def active(self) -> int:
        return sum(1 for runs in self.runs.values() if runs and runs[0]["active"])

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def sample(kernel: Kernel, count: int, spacing: float, while_active: bool) -> list[float]:
    """``1+1`` round trips, one every ``spacing`` s: ``count`` of them, or (while_active)
    as many as fit while any widget job is active."""
    times: list[float] = []
    while True:
        kernel.drain()
        if while_active and not kernel.active():
            return times
        if not while_active and len(times) >= count:
            return times
        times.append(kernel.round_trip())
        kernel.listen(spacing)


def start_widgets(kernel: Kernel, client_expr: str, tag: str) -> list[str]:
    """Show five widgets and press Generate in each, as the front end does."""
    before = set(kernel.runs)
    code = "\n".join(
        f"{tag}{i} = VideoWidget(prompt='a lighthouse in a storm {tag} {i}', "
        f"num_frames={FRAMES}, num_inference_steps=20{client_expr})\n"
        f"display({tag}{i})"
        for i in range(JOBS)
    )
    kernel.execute(code)
    kernel.drain()
    comm_ids = [comm_id for comm_id in kernel.runs if comm_id not in before]
    params = {
        "prompt": f"a lighthouse in a storm ({tag})",
        "num_frames": FRAMES,
        "fps": 16,
        "num_inference_steps": 20,
        "guidance_scale": 5.0,
        "seed": None,
    }
    for comm_id in comm_ids:
        kernel.click(comm_id, {"type": "generate", "params": params})
    kernel.until(lambda: all(kernel.runs[c] for c in comm_ids), "the runs to start")
    return comm_ids


def sample_locked(
    kernel: Kernel, lock: JournalLock, spacing: float
) -> tuple[list[float], list[float]]:
    """``1+1`` round trips, one every ``spacing`` s, from now until the widget jobs are
    done and the journal was locked twice (the second time as soon as the first lock
    is released). Returns (all of them, those sent while the lock was held)."""
    times: list[float] = []
    held: list[float] = []
    holding, released = False, 0
    lock.lock()
    while True:
        for line in lock.said():
            holding = line == "locked"
            if line == "released":
                released += 1
                if released == 1:
                    lock.lock()
        kernel.drain()
        if released == 2 and not kernel.active():
            return times, held
        seconds = kernel.round_trip()
        times.append(seconds)
        if holding:
            held.append(seconds)
        kernel.listen(spacing)


def describe(label: str, seconds: list[float]) -> None:
    ms = sorted(1000 * s for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(
        f"  {label:<52} {len(ms):>4} {statistics.fmean(ms):>8.1f} "
        f"{statistics.median(ms):>8.1f} {p95:>8.1f} {ms[-1]:>8.1f}"
    )


def delivery(kernel: Kernel, comm_id: str) -> None:
    run = kernel.runs[comm_id][0]
    size = os.path.getsize(run["video"]["saved_path"])
    kernel.customs.clear()
    kernel.click(comm_id, {"type": "video", "key": run["key"]})
    kernel.until(lambda: kernel.customs, "the video message")
    msg = kernel.customs[0]
    buffers = sum(len(buffer) for buffer in msg["buffers"])
    content_json = len(json.dumps(msg["content"]).encode())
    envelope = sum(
        len(json.dumps(msg[part], default=str).encode())
        for part in ("header", "parent_header", "metadata")
    )
    naive = kernel.execute(
        "from IPython.display import Video as _V\n"
        f"display(_V({run['video']['saved_path']!r}, embed=True))"
    )
    kernel.until(lambda: naive["parent_header"]["msg_id"] in kernel.results, "the embed")
    embedded = kernel.results[naive["parent_header"]["msg_id"]]
    embedded_json = len(json.dumps(embedded["content"]).encode())

    print(f"\nDelivery of one {FRAMES}-frame video ({size / 1024:.1f} KiB file), goal ≤ 1.01")
    count = len(msg["buffers"])
    print(f"  comm message: {count} binary buffer of {buffers} B + {content_json} B of JSON")
    print("  bytes sent / file size")
    rows = {
        "buffers + comm JSON": buffers + content_json,
        "the whole message (+ header, parent header, metadata)": (
            buffers + content_json + envelope
        ),
        "naive: IPython.display.Video(embed=True), base64 in JSON": embedded_json,
    }
    for label, sent in rows.items():
        print(f"    {label:<58} {sent / size:.4f}")


_SERVER = """
import sys
from pathlib import Path
from eco_widget.server import ServerConfig, ThreadedServer
config = ServerConfig(api_keys=(sys.argv[1],), data_dir=Path(sys.argv[2]),
                      profile="realistic", time_scale=float(sys.argv[3]))
with ThreadedServer(config) as server:
    print(server.url, flush=True)
    sys.stdin.read()
"""


@contextmanager
def server_process(data_dir: Path, scale: float) -> Iterator[str]:
    """The local server in a process of its own (so that neither its renderer nor its
    HTTP handling shares a process with the kernel or this client); yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER, KEY, str(data_dir), str(scale)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=30, help="round trips with no jobs")
    parser.add_argument("--spacing", type=float, default=0.1, help="seconds between samples")
    parser.add_argument("--scale", type=float, default=0.05, help="time scale of the server")
    parser.add_argument("--naive", type=int, default=3, help="blocking cells to measure")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with server_process(tmp / "server", args.scale) as url:
            env = dict(os.environ)
            env.pop("ECOHASH_API_KEY", None)
            env.update(
                ECOHASH_BASE_URL="sandbox",
                ECOHASH_SANDBOX_PROFILE="fast",
                ECOHASH_SANDBOX_DIR=str(tmp / "sandbox"),
                ECOHASH_HOME=str(tmp / "home"),
            )
            kernel = Kernel(env)
            try:
                run_all(kernel, url, args, tmp / "home" / "journal.sqlite3")
            finally:
                kernel.shutdown()


def run_all(kernel: Kernel, url: str, args: argparse.Namespace, journal: Path) -> None:
    kernel.execute(
        "from eco_widget import AsyncClient, Client, PollPolicy, VideoWidget\n"
        "from eco_widget._sandbox import get_sandbox\n"
        "from IPython.display import display\n"
        f"policy = PollPolicy().scaled({args.scale})\n"
        f"remote = AsyncClient(api_key={KEY!r}, base_url={url!r}, poll_policy=policy)\n"
        "get_sandbox()\n"
    )
    for _ in range(5):
        kernel.round_trip()

    print(f"Kernel round trip of `1+1` (ms), one sample every {args.spacing:.2f} s")
    print(f"  {'':<52} {'n':>4} {'mean':>8} {'p50':>8} {'p95':>8} {'max':>8}")
    describe("no jobs", sample(kernel, args.samples, args.spacing, while_active=False))

    began = time.monotonic()
    remote = start_widgets(kernel, ", client=remote", "a")
    loaded = sample(kernel, 0, args.spacing, while_active=True)
    describe(
        f"5 widget jobs, server in another process ({time.monotonic() - began:.0f} s)",
        loaded,
    )

    began = time.monotonic()
    start_widgets(kernel, "", "b")
    loaded = sample(kernel, 0, args.spacing, while_active=True)
    describe(
        f"5 widget jobs, embedded sandbox in the kernel ({time.monotonic() - began:.0f} s)",
        loaded,
    )

    began = time.monotonic()
    locked = start_widgets(kernel, "", "c")
    kernel.until(
        lambda: all(kernel.runs[c][0]["job_id"] for c in locked), "the jobs to be submitted"
    )
    lock = JournalLock(journal, HOLD)
    try:
        loaded, held = sample_locked(kernel, lock, args.spacing)
    finally:
        lock.close()
    describe(
        f"5 widget jobs, journal locked {HOLD:.0f} s twice ({time.monotonic() - began:.0f} s)",
        loaded,
    )
    if held:
        describe("  of which while another process held the lock", held)

    blocked = []
    for i in range(args.naive):
        cell = kernel.client.execute(
            f"Client(api_key={KEY!r}, base_url={url!r}, poll_policy=policy)"
            f".generate('a blocking cell {i}', num_frames={FRAMES}, num_inference_steps=20)",
            store_history=False,
        )
        blocked.append(kernel.round_trip())
        kernel.reply(cell, 120.0)
    describe("naive: 1 blocking Client.generate() cell", blocked)

    delivery(kernel, remote[0])


if __name__ == "__main__":
    main()
