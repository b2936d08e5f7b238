"""VideoWidget used from other threads of a real ipykernel: the front end's requests
arriving on a kernel subshell (JupyterLab ≥ 4.4 sends comm messages over subshells),
and the Python API called from a plain ``threading.Thread``.

Whichever thread a request arrives on, the widget's jobs run on its home loop (the
kernel's main loop for a widget made in a cell): every job is submitted once, followed
to a saved video and journaled, and every request gets exactly one answer.

Subshells are kernel protocol 5.5: a ``create_subshell_request`` on the control channel
answers a ``subshell_id``; a shell message whose header carries it is handled on that
subshell's own thread (and asyncio loop). ipykernel 7.4 routes a ``comm_msg`` to the
subshell that the comm last published from (``Comm._reply_subshell_for``), so a cell run
on the subshell first publishes the widget's state there: from then on the requests land
on the subshell's thread, which a probe wrapped around the comm's callback records.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.kernel.conftest import DEADLINE, Execution
from tests.kernel.test_widget_kernel import IMPORT, PARAMS

if TYPE_CHECKING:
    from tests.kernel.conftest import KernelSession, WidgetLog

#: Run on the subshell: record the thread the kernel delivers each custom message of
#: ``w`` on (wrapping the comm's own callback: the widget hands the message to its home
#: loop from there), and publish the widget's state from there (which routes its comm's
#: messages there).
ON_SUBSHELL = """\
import threading
handled_on = []
def _probe(msg, deliver={name}.comm._msg_callback):
    data = msg["content"]["data"]
    if data.get("method") == "custom":
        handled_on.append([data["content"].get("request"), threading.current_thread().name])
    deliver(msg)
{name}.comm.on_msg(_probe)
{name}.send_state("prompt")
"""


# -- the kernel's subshells --------------------------------------------------------------
def create_subshell(kernel: KernelSession) -> str:
    """Ask the kernel for a new subshell (on the control channel); return its id."""
    request = kernel.client.session.msg("create_subshell_request", {})
    kernel.client.control_channel.send(request)
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            reply = kernel.client.get_control_msg(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no create_subshell_reply within {DEADLINE:.0f} s") from None
        if reply["parent_header"].get("msg_id") == request["header"]["msg_id"]:
            break
    assert reply["msg_type"] == "create_subshell_reply"
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply["content"]["subshell_id"]


def send_on_subshell(
    kernel: KernelSession, subshell: str, msg_type: str, content: dict[str, Any]
) -> str:
    """Send a shell message handled on ``subshell``'s thread; return its msg_id."""
    msg = kernel.client.session.msg(msg_type, content)
    msg["header"]["subshell_id"] = subshell
    kernel.client.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def execute_on_subshell(kernel: KernelSession, subshell: str, code: str) -> Execution:
    """Run ``code`` as a cell on ``subshell``; wait for it; raise on error."""
    content = {
        "code": code,
        "silent": False,
        "store_history": False,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
    }
    msg_id = send_on_subshell(kernel, subshell, "execute_request", content)
    execution = kernel.executions[msg_id] = Execution(msg_id)
    kernel.pump_until(lambda: execution.done, f"the subshell cell {code!r} to finish")
    return execution.check()


def request_on_subshell(
    kernel: KernelSession, subshell: str, widget: WidgetLog, content: dict[str, Any]
) -> str:
    """What the front end's ``model.send(content)`` sends, over ``subshell``."""
    data = {"method": "custom", "content": content}
    return send_on_subshell(kernel, subshell, "comm_msg", {"comm_id": widget.comm_id, "data": data})


# -- what the kernel answered ------------------------------------------------------------
def answers(widget: WidgetLog, request: str) -> list[dict[str, Any]]:
    return [
        content
        for content, _, _ in widget.customs
        if content.get("type") == "answer" and content.get("request") == request
    ]


def answer(kernel: KernelSession, widget: WidgetLog, request: str) -> dict[str, Any]:
    """Wait for the (first) answer to ``request``."""
    return kernel.pump_until(
        lambda: next(iter(answers(widget, request)), None), f"the answer to {request}"
    )


def completed(run: dict[str, Any]) -> bool:
    return run["phase"] == "completed"


def settled(run: dict[str, Any]) -> bool:
    return not run["active"]


def server_job_count(kernel: KernelSession) -> int:
    """How many jobs the kernel's sandbox server has created (its job store)."""
    path = kernel.tmp / "sandbox" / "jobs.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


def journal_job_ids(kernel: KernelSession) -> list[str]:
    """The job ids the kernel's job journal holds (every row)."""
    path = kernel.tmp / "home" / "journal.sqlite3"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return sorted(row[0] for row in db.execute("SELECT job_id FROM jobs"))


def assert_saved(run: dict[str, Any]) -> None:
    assert completed(run), run
    assert run["job_id"].startswith("vid_")
    assert run["error"] is None
    saved = Path(run["video"]["saved_path"])
    assert saved.stat().st_size == run["video"]["size"] > 0


def assert_never_stopped(runs: list[dict[str, Any]]) -> None:
    for run in runs:
        assert run["phase"] != "stopped", run
        said = f"{run['phase_label']} {run['note'] or ''}"
        assert "Stopped" not in said and "nothing was billed" not in said, run


def handled_on(kernel: KernelSession) -> dict[str, list[str]]:
    """request id -> the threads its message was handled on (the recorder's list)."""
    printed = kernel.execute("import json\nprint(json.dumps(handled_on))").stdout
    threads: dict[str, list[str]] = {}
    for request, thread in json.loads(printed):
        threads.setdefault(request, []).append(thread)
    return threads


# -- the tests ---------------------------------------------------------------------------
def test_generate_requests_from_a_subshell_each_make_one_saved_video(make_kernel):
    kernel = make_kernel()
    widget = kernel.widget(
        f'{IMPORT}w_sub = VideoWidget(prompt="a red balloon", num_frames=9)\nw_sub'
    )
    # A first job from a cell, on the kernel's main loop (the widget's client is used
    # there first), as when a notebook runs a cell before anyone clicks.
    kernel.execute("w_sub.generate(seed=1)\nw_sub.wait()")
    assert_saved(widget.run("r1"))
    subshell = create_subshell(kernel)
    execute_on_subshell(kernel, subshell, ON_SUBSHELL.format(name="w_sub"))

    keys: list[str] = []
    in_a_row = [f"row{i}" for i in range(3)]
    for i, request in enumerate(in_a_row):  # each waits for the previous run's video
        params = {**PARAMS, "seed": 100 + i}
        request_on_subshell(
            kernel, subshell, widget, {"type": "generate", "request": request, "params": params}
        )
        got = answer(kernel, widget, request)
        assert got["ok"] is True, got
        keys.append(got["run"])
        assert_saved(kernel.wait_run(widget, got["run"], settled, "to finish"))

    at_once = ["both0", "both1"]
    for i, request in enumerate(at_once):
        params = {**PARAMS, "prompt": f"a kite {i}", "seed": 200 + i}
        request_on_subshell(
            kernel, subshell, widget, {"type": "generate", "request": request, "params": params}
        )
    for request in at_once:
        got = answer(kernel, widget, request)
        assert got["ok"] is True, got
        keys.append(got["run"])
    for key in keys[3:]:
        assert_saved(kernel.wait_run(widget, key, settled, "to finish"))

    threads = handled_on(kernel)  # also a point after which every answer has arrived
    requests = in_a_row + at_once
    for request in requests:
        assert len(answers(widget, request)) == 1, answers(widget, request)
    assert len(set(keys)) == len(keys) == 5 and "r1" not in keys, keys
    runs = widget.state["runs"]
    assert sorted(run["key"] for run in runs) == sorted(["r1", *keys])
    for run in runs:
        assert_saved(run)
    assert_never_stopped(runs)
    job_ids = sorted(run["job_id"] for run in runs)
    assert len(set(job_ids)) == 6
    assert server_job_count(kernel) == 6  # every job submitted is a run's
    assert journal_job_ids(kernel) == job_ids
    # The requests really were handled on the subshell's thread, not the main one.
    assert sorted(threads) == sorted(requests), threads
    for request in requests:
        [thread] = threads[request]
        assert thread != "MainThread" and subshell in thread, (request, thread)


THREAD = """\
import asyncio, threading, traceback
from_thread = {}

def worker():
    from_thread["thread"] = threading.current_thread().name
    try:
        w_thr.generate("a kite from a thread", seed=11)
        first = w_thr.wait(timeout=60)
        from_thread["first"] = [type(first).__name__, first.job.id, str(first.path)]
        w_thr.generate("stopped at once", seed=12)
        w_thr.stop()
        try:
            w_thr.wait(timeout=60)
            from_thread["stopped"] = "not stopped"
        except BaseException as exc:
            from_thread["stopped"] = type(exc).__name__
        w_thr.generate("a boat from a thread", seed=13)
        third = w_thr.wait(timeout=60)
        from_thread["third"] = [type(third).__name__, third.job.id, str(third.path)]
    except BaseException:
        from_thread["error"] = traceback.format_exc()
    finally:
        print("eco-test-worker ended", flush=True)

worker_thread = threading.Thread(target=worker, name="eco-test-worker")
worker_thread.start()
"""


def test_generate_stop_and_wait_from_a_plain_thread(make_kernel):
    kernel = make_kernel()
    widget = kernel.widget(f'{IMPORT}w_thr = VideoWidget(prompt="a kite", num_frames=9)\nw_thr')

    # A first job from a cell, on the kernel's main loop (where the client is used first).
    kernel.execute("w_thr.generate(seed=10)\nw_thr.wait()")
    assert_saved(widget.run("r1"))

    kernel.execute(THREAD)  # returns at once: the thread works while the kernel is idle
    kernel.pump_until(
        lambda: any(
            kind == "stream" and "eco-test-worker ended" in content["text"]
            for kind, _, content in kernel.log
        ),
        "the thread to end",
        3 * DEADLINE,
    )
    cell = kernel.execute(
        "import json\n"
        "await asyncio.get_running_loop().run_in_executor(None, worker_thread.join, 60)\n"
        "print(json.dumps([worker_thread.is_alive(), from_thread]))",
        timeout=2 * DEADLINE,
    )

    alive, got = json.loads(cell.stdout)
    assert alive is False
    assert "error" not in got, got["error"]
    assert got["thread"] == "eco-test-worker"
    kernel.wait_run(widget, "r4", settled, "(the thread's last) to finish")
    cell_run = widget.run("r1")
    first, second, third = (widget.run(key) for key in ("r2", "r3", "r4"))
    assert first is not None and second is not None and third is not None
    assert len(widget.state["runs"]) == 4
    assert_saved(first)
    assert_saved(third)
    # wait() from the thread returned each run's Video.
    assert got["first"] == ["Video", first["job_id"], first["video"]["saved_path"]]
    assert got["third"] == ["Video", third["job_id"], third["video"]["saved_path"]]
    assert_never_stopped([first, third])
    # stop() from the thread stopped the run it had just started.
    assert got["stopped"] == "CancelledError"
    assert second["phase"] == "stopped" and second["active"] is False, second
    assert second["video"] is None and second["error"] is None
    runs = (cell_run, first, second, third)
    job_ids = sorted(run["job_id"] for run in runs if run["job_id"])
    assert server_job_count(kernel) == len(job_ids)
    assert journal_job_ids(kernel) == job_ids


def test_a_refused_request_from_a_subshell_answers_why_and_starts_nothing(make_kernel):
    kernel = make_kernel()
    widget = kernel.widget(
        f'{IMPORT}w_no = VideoWidget(prompt="a red balloon", num_frames=9)\nw_no'
    )
    subshell = create_subshell(kernel)
    execute_on_subshell(kernel, subshell, ON_SUBSHELL.format(name="w_no"))
    request_on_subshell(
        kernel, subshell, widget, {"type": "generate", "request": "good", "params": PARAMS}
    )
    good = answer(kernel, widget, "good")
    assert good["ok"] is True, good
    assert_saved(kernel.wait_run(widget, good["run"], settled, "to finish"))
    jobs = server_job_count(kernel)
    assert jobs == 1

    bad = {**PARAMS, "fps": 0}
    request_on_subshell(
        kernel, subshell, widget, {"type": "generate", "request": "bad", "params": bad}
    )
    refused = answer(kernel, widget, "bad")

    assert refused["ok"] is False, refused
    assert refused["param"] == "fps"
    assert "fps" in refused["message"]
    assert refused.get("run") is None
    cell = kernel.execute("print(len(w_no._runs), w_no.status)")
    assert cell.stdout == "1 completed\n"  # no new run
    assert len(answers(widget, "bad")) == 1
    assert [run["key"] for run in widget.state["runs"]] == [good["run"]]
    assert server_job_count(kernel) == jobs
    assert journal_job_ids(kernel) == [widget.state["runs"][0]["job_id"]]
    assert handled_on(kernel)["bad"][0] != "MainThread"
