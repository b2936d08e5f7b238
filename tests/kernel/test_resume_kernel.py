"""Never lose a video across a kernel restart: a job submitted in one kernel, which is
then shut down before the job completes, is offered by a new ``VideoWidget`` in a fresh
kernel, and resumed to its video (by the banner's message, or ``%ecovideo --resume``).

Both kernels share one data folder (journal and videos), as a restarted kernel does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KEY
from tests.kernel.conftest import DEADLINE, KernelSession, start_kernel


class GatedRenderer:
    """The sandbox's renderer, holding every job in ``processing`` until ``gate`` opens."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def render(self, params: Any, progress: Callable[[float], None]) -> bytes:
        from eco_widget.server._sandbox_render import render_sandbox_video

        progress(0.25)
        if not self.gate.wait(DEADLINE * 4):
            raise TimeoutError("the test never opened the gate")
        return render_sandbox_video(params)


@pytest.fixture
def kernels(tmp_path: Path) -> Iterator[Callable[..., KernelSession]]:
    """``kernels(**env)`` starts a kernel in the test's one folder (same sandbox data,
    same journal and videos: a restart of the same notebook's kernel)."""
    started: list[KernelSession] = []

    def start(**env: str) -> KernelSession:
        session = start_kernel(tmp_path, **env)
        started.append(session)
        return session

    yield start
    for session in started:
        if session.manager.is_alive():
            session.shutdown()


def test_a_restarted_kernel_offers_the_pending_job_and_resumes_it(make_server, kernels):
    renderer = GatedRenderer()
    server = make_server(profile="fast", time_scale=0.05, renderer=renderer)
    env = {"ECOHASH_BASE_URL": server.url, "ECOHASH_API_KEY": KEY}

    first = kernels(**env)
    widget = first.widget(
        "from eco_widget import VideoWidget\n"
        "w = VideoWidget(prompt='a lighthouse at night', num_frames=5, seed=11)\nw"
    )
    first.execute("w.generate()")
    run = first.wait_run(widget, "r1", lambda run: run["phase"] == "processing", "to process")
    job_id = run["job_id"]
    first.shutdown()  # the kernel dies with the job still processing on the server

    second = kernels(**env)
    widget = second.widget("from eco_widget import VideoWidget\nw = VideoWidget()\nw")

    [offer] = widget.state["pending"]
    assert offer["job_id"] == job_id
    assert (offer["prompt"], offer["seed"], offer["status"]) == (
        "a lighthouse at night",
        11,
        "processing",
    )
    assert KEY not in str(widget.state) and server.url not in str(widget.state)
    assert widget.state["runs"] == []

    cell = second.execute("tasks = w.resume()\nprint(len(tasks), w.pending)")
    assert cell.stdout == "1 []\n"
    second.pump_until(lambda: widget.state["pending"] == [], "the offer to be withdrawn")
    second.wait_run(widget, "r1", lambda run: run["phase"] == "processing", "to be followed")
    renderer.gate.set()
    run = second.wait_run(widget, "r1", lambda run: run["phase"] == "completed", "to complete")

    assert (run["job_id"], run["prompt"], run["seed"]) == (job_id, "a lighthouse at night", 11)
    saved = Path(run["video"]["saved_path"])
    assert saved.parent == second.tmp / "home" / "videos"
    assert saved.stat().st_size == run["video"]["size"] > 0
    assert server.stats.for_key(KEY)["requests"]["posts"] == 1  # resumed, not made again

    second.wait_handled(second.send_custom(widget, {"type": "video", "key": "r1"}))
    second.pump_until(lambda: widget.customs, "the video message")
    (content, buffers, _), *_ = widget.customs
    assert content["type"] == "video" and buffers[0] == saved.read_bytes()


def test_the_banner_message_resumes_the_pending_jobs(make_server, kernels):
    renderer = GatedRenderer()
    server = make_server(profile="fast", time_scale=0.05, renderer=renderer)
    env = {"ECOHASH_BASE_URL": server.url, "ECOHASH_API_KEY": KEY}
    first = kernels(**env)
    cell = first.execute(
        "from eco_widget import Client\n"
        "with Client() as client:\n"
        "    print(*(client.submit(p, num_frames=3).id for p in ('one', 'two')))"
    )
    job_ids = cell.stdout.split()
    first.shutdown()

    second = kernels(**env)
    widget = second.widget("from eco_widget import VideoWidget\nw = VideoWidget()\nw")
    assert [item["job_id"] for item in widget.state["pending"]] == job_ids

    second.wait_handled(second.send_custom(widget, {"type": "resume"}))
    renderer.gate.set()
    for key in ("r1", "r2"):
        second.wait_run(widget, key, lambda run: run["phase"] == "completed", "to complete")

    assert widget.state["pending"] == []
    assert [run["job_id"] for run in widget.state["runs"]] == job_ids[::-1]  # newest first


def test_ecovideo_resume_in_a_fresh_kernel(kernels):
    first = kernels()  # the embedded sandbox, its data in the test's folder
    cell = first.execute(
        "from eco_widget import Client\n"
        "print(Client().submit('a koi pond in the rain', num_frames=5, seed=3).id)"
    )
    job_id = cell.stdout.strip()
    first.shutdown()  # with its sandbox server: the job is left unfinished

    second = kernels()
    second.execute("%load_ext eco_widget")
    cell = second.execute("%ecovideo --resume")
    opened = [c for c in cell.comm_opens if "runs" in c["data"].get("state", {})]
    assert len(opened) == 1 and cell.stderr == "" and cell.results == []
    widget = second.widgets[opened[0]["comm_id"]]
    run = second.wait_run(widget, "r1", lambda run: run["phase"] == "completed", "to complete")

    assert (run["job_id"], run["prompt"], run["seed"]) == (job_id, "a koi pond in the rain", 3)
    assert Path(run["video"]["saved_path"]).stat().st_size == run["video"]["size"] > 0

    again = second.execute("%ecovideo --resume")
    shown = [kind for kind, parent, _ in second.log if parent == again.msg_id]
    assert "display_data" not in shown and again.results == []
    assert again.stdout == (
        "%ecovideo --resume: nothing to resume; no job from an earlier session is pending.\n"
    )


def test_a_gallery_made_again_after_a_restart_follows_its_jobs(make_server, kernels):
    """A gallery's batch is journaled: the same gallery in a restarted kernel follows the
    jobs the first kernel submitted (no second submission, the same seeds), and its
    banner does not offer them again."""
    renderer = GatedRenderer()
    server = make_server(profile="fast", time_scale=0.05, renderer=renderer)
    env = {"ECOHASH_BASE_URL": server.url, "ECOHASH_API_KEY": KEY}
    make = (
        "from eco_widget import VideoGallery\n"
        "g = VideoGallery(['a koi pond', {'prompt': 'a lighthouse', 'seed': 5}], num_frames=2)\n"
        "g"
    )

    first = kernels(**env)
    gallery = first.widget(make)
    for key in ("r1", "r2"):
        first.wait_run(gallery, key, lambda run: run["phase"] == "processing", "to process")
    submitted = {
        key: (run["job_id"], run["seed"]) for key in ("r1", "r2") if (run := gallery.run(key))
    }
    first.shutdown()  # the kernel dies with both jobs processing on the server

    second = kernels(**env)
    gallery = second.widget(make)
    for key in ("r1", "r2"):
        second.wait_run(gallery, key, lambda run: run["phase"] == "processing", "to be followed")
    second.pump_until(lambda: gallery.state["pending"] == [], "the offer to be withdrawn")
    renderer.gate.set()
    for key in ("r1", "r2"):
        run = second.wait_run(gallery, key, lambda run: run["phase"] == "completed", "to complete")
        assert (run["job_id"], run["seed"]) == submitted[key]
        assert Path(run["video"]["saved_path"]).stat().st_size == run["video"]["size"] > 0
    assert submitted["r2"][1] == 5
    assert server.stats.for_key(KEY)["requests"]["posts"] == 2  # followed, not made again


def test_a_sweep_made_again_after_a_restart_follows_its_jobs(make_server, kernels):
    """A sweep is journaled like any batch: the same sweep in a restarted kernel follows
    the jobs the first kernel submitted, cell by cell, and lays out the same table."""
    renderer = GatedRenderer()
    server = make_server(profile="fast", time_scale=0.05, renderer=renderer)
    env = {"ECOHASH_BASE_URL": server.url, "ECOHASH_API_KEY": KEY}
    make = (
        "from eco_widget import VideoGallery\n"
        "g = VideoGallery(num_frames=2)\n"
        "g.sweep('a koi pond', seed=[1, 2], guidance_scale=[3.0, 5.0])\n"
        "g"
    )
    keys = ("r1", "r2", "r3", "r4")

    first = kernels(**env)
    gallery = first.widget(make)
    for key in keys:
        first.wait_run(gallery, key, lambda run: run["phase"] == "processing", "to process")
    submitted = {key: gallery.run(key)["job_id"] for key in keys}
    layout = gallery.state["sweep_layout"]
    first.shutdown()

    second = kernels(**env)
    gallery = second.widget(make)
    for key in keys:
        second.wait_run(gallery, key, lambda run: run["phase"] == "processing", "to be followed")
    renderer.gate.set()
    for key in keys:
        run = second.wait_run(gallery, key, lambda run: run["phase"] == "completed", "to complete")
        assert run["job_id"] == submitted[key]
    assert gallery.state["sweep_layout"] == layout
    assert [a["values"] for a in layout["axes"]] == [[1, 2], [3.0, 5.0]]
    assert server.stats.for_key(KEY)["requests"]["posts"] == 4  # followed, not made again
