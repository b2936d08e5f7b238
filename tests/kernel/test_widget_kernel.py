"""VideoWidget in a real ipykernel: clicks, waiting from cells, the video over the comm.

The client here plays the front end: it sends the widget's custom messages as
``comm_msg`` on the shell channel and reads state updates from iopub. Every wait loops
over iopub messages with a deadline; "meanwhile" is an ordering of iopub messages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.kernel.conftest import KernelSession

PARAMS = {
    "prompt": "a red balloon at dawn",
    "num_frames": 9,
    "fps": 8,
    "num_inference_steps": 20,
    "guidance_scale": 4.5,
    "seed": 1234,
}
IMPORT = "from eco_widget import VideoWidget\n"


def completed(run: dict) -> bool:
    return run["phase"] == "completed"


def generate_by_click(kernel: KernelSession, name: str) -> tuple:
    """Show a widget, press Generate (the front end's message); return (widget, msg_id)."""
    widget = kernel.widget(
        f'{IMPORT}{name} = VideoWidget(prompt="a red balloon", num_frames=9)\n{name}'
    )
    msg_id = kernel.send_custom(widget, {"type": "generate", "params": PARAMS})
    return widget, msg_id


def test_click_starts_a_job_that_completes_while_the_kernel_is_idle(kernel: KernelSession):
    widget, click = generate_by_click(kernel, "w_click")
    kernel.wait_handled(click)
    submitted = kernel.wait_run(widget, "r1", lambda run: run["job_id"], "to be submitted")
    assert submitted["active"] is True

    answer = kernel.execute("1+1")
    assert answer.results == ["2"]
    run = kernel.wait_run(widget, "r1", completed, "to complete")

    done = kernel.first_update(widget, completed)
    assert (
        kernel.index("status", click, execution_state="idle") < done
    )  # the click's handler returned first
    assert kernel.index("execute_result", answer.msg_id) < done  # 1+1 answered meanwhile
    phases = [runs[0]["phase"] for runs in widget.runs_history if runs]
    assert "processing" in phases[: phases.index("completed")]

    assert run["job_id"].startswith("vid_")
    assert run["active"] is False
    assert run["fraction"] == 1.0
    assert {key: run[key] for key in PARAMS} == PARAMS
    assert widget.state["prompt"] == PARAMS["prompt"]
    saved = Path(run["video"]["saved_path"])
    assert saved.parent == kernel.tmp / "home" / "videos"
    assert saved.stat().st_size == run["video"]["size"] > 0
    assert run["error"] is None


def test_wait_in_a_synchronous_cell_returns_the_video(kernel: KernelSession):
    widget = kernel.widget(
        f'{IMPORT}w_sync = VideoWidget(prompt="a green kite", num_frames=9, seed=7)\nw_sync'
    )

    cell = kernel.execute(
        "w_sync.generate()\nv = w_sync.wait()\nprint(v.job.id, v.seed, len(v.data))"
    )

    job_id, seed, size = cell.stdout.split()
    run = widget.run("r1")
    assert run is not None and completed(run)
    assert (job_id, seed) == (run["job_id"], "7")
    assert int(size) == run["video"]["size"] == Path(run["video"]["saved_path"]).stat().st_size
    assert cell.stderr == ""
    # The state reached the front end live, while the cell was still waiting.
    printed = kernel.index("stream", cell.msg_id)
    assert kernel.first_update(widget, lambda run: run["phase"] == "processing") < printed

    updates = len(widget.runs_history)
    again = kernel.execute("print(w_sync.wait() is v, w_sync.wait(timeout=0) is v)")
    assert again.stdout == "True True\n"
    assert len(widget.runs_history) == updates  # no new job, nothing re-sent


def test_wait_timeout_leaves_the_job_running_and_await_collects_it(kernel: KernelSession):
    widget = kernel.widget(
        f'{IMPORT}w_await = VideoWidget(prompt="a blue boat", num_frames=9)\nw_await'
    )

    cell = kernel.execute(
        "w_await.generate(seed=21)\n"
        "try:\n"
        "    w_await.wait(timeout=0.01)\n"
        "except TimeoutError:\n"
        "    print('timed out', w_await.status)\n"
    )
    assert cell.stdout.startswith("timed out ")
    assert cell.stdout.split()[-1] in {"submitting", "queued", "processing"}

    cell = kernel.execute("v = await w_await\nprint(v.job.id, v.seed, len(v.data), v.path)")

    job_id, seed, size, path = cell.stdout.split()
    run = widget.run("r1")
    assert run is not None and completed(run)
    assert (job_id, seed, path) == (run["job_id"], "21", run["video"]["saved_path"])
    assert int(size) == Path(path).stat().st_size
    assert len(widget.state["runs"]) == 1


def test_await_generate_gives_the_video(kernel: KernelSession):
    widget = kernel.widget(
        f'{IMPORT}w_gen = VideoWidget(prompt="a yellow train", num_frames=9)\nw_gen'
    )

    cell = kernel.execute(
        "v = await w_gen.generate('a yellow train in snow', seed=5)\n"
        "print(v.job.id, v.seed, v.prompt == 'a yellow train in snow', w_gen.status)"
    )

    job_id, seed, same_prompt, status = cell.stdout.split()
    run = widget.run("r1")
    assert run is not None and completed(run)
    assert (job_id, seed, same_prompt, status) == (run["job_id"], "5", "True", "completed")
    assert widget.state["prompt"] == "a yellow train in snow"


def test_the_video_travels_as_one_binary_buffer(kernel: KernelSession):
    widget, _ = generate_by_click(kernel, "w_bytes")
    run = kernel.wait_run(widget, "r1", completed, "to complete")

    kernel.wait_handled(kernel.send_custom(widget, {"type": "video", "key": "r1"}))
    kernel.pump_until(lambda: widget.customs, "the video message")

    (content, buffers, data), *more = widget.customs
    assert more == []
    assert data["method"] == "custom"
    assert content == {
        "type": "video",
        "key": "r1",
        "filename": run["video"]["filename"],
        "mime": "video/mp4",
    }
    assert len(buffers) == 1
    kept = kernel.execute("print(w_bytes.video.path)").stdout.strip()
    assert kept == run["video"]["saved_path"]
    assert buffers[0] == Path(kept).read_bytes()
    assert buffers[0][4:8] == b"ftyp"
    assert len(json.dumps(data)) < 500  # the bytes are not in the JSON


def test_asking_for_a_missing_video_answers_video_missing(kernel: KernelSession):
    widget = kernel.widget(f"{IMPORT}w_none = VideoWidget()\nw_none")

    kernel.wait_handled(kernel.send_custom(widget, {"type": "video", "key": "r1"}))
    kernel.pump_until(lambda: widget.customs, "the answer")

    [(content, buffers, _)] = widget.customs
    assert content["type"] == "video_missing"
    assert content["key"] == "r1"
    assert content["message"]
    assert buffers == []


def test_a_refused_click_shows_the_form_error_and_starts_nothing(kernel: KernelSession):
    widget = kernel.widget(f'{IMPORT}w_bad = VideoWidget(prompt="a red balloon")\nw_bad')

    bad = {**PARAMS, "fps": 0}
    kernel.wait_handled(kernel.send_custom(widget, {"type": "generate", "params": bad}))
    kernel.pump_until(lambda: widget.state.get("form_error"), "the form error")

    assert widget.state["form_error"]["param"] == "fps"
    assert "fps" in widget.state["form_error"]["message"]
    assert kernel.execute("print(len(w_bad._runs), w_bad.status)").stdout == "0 idle\n"
    assert widget.state["runs"] == []


def test_stop_ends_the_wait_for_a_slow_job(make_kernel):
    kernel = make_kernel(ECOHASH_SANDBOX_PROFILE="realistic")
    widget, click = generate_by_click(kernel, "w_slow")
    kernel.wait_handled(click)
    run = kernel.wait_run(widget, "r1", lambda run: run["job_id"], "to be submitted")
    job_id = run["job_id"]
    assert run["phase"] == "queued"

    stop = kernel.send_custom(widget, {"type": "stop", "key": "r1"})
    kernel.wait_handled(stop)
    run = kernel.wait_run(widget, "r1", lambda run: run["phase"] == "stopped", "to stop")

    assert run["active"] is False
    assert job_id in run["note"]
    assert run["video"] is None and run["error"] is None
    cell = kernel.execute("print(w_slow.status, w_slow.video)\n1+1")
    assert cell.stdout == "stopped None\n"
    assert cell.results == ["2"]
    assert kernel.statuses[stop][-1] == "idle"


def test_interrupting_wait_stops_the_waiting_not_the_kernel_nor_the_job(make_kernel):
    kernel = make_kernel(ECOHASH_SANDBOX_PROFILE="realistic")
    widget = kernel.widget(f'{IMPORT}w_int = VideoWidget(prompt="patience", num_frames=9)\nw_int')
    for attempt in range(3):
        key = f"r{attempt + 1}"
        cell = kernel.submit("w_int.generate()\nv = w_int.wait()")
        kernel.wait_run(
            widget, key, lambda run: run["phase"] in ("submitting", "queued"), "to start"
        )
        kernel.manager.interrupt_kernel()
        kernel.pump_until(lambda cell=cell: cell.done, "the interrupted cell to end")
        assert cell.reply["status"] == "error"
        assert cell.reply["ename"] == "KeyboardInterrupt"
        after = kernel.execute(f"print(w_int._runs[{attempt}].active)\n1+1")
        assert after.results == ["2"]  # the kernel is alive and answers
        assert after.stdout == "True\n"  # the job's task goes on
        assert kernel.manager.is_alive()
