"""The Wan2.1 backend on CPU, with a tiny random-weight pipeline loaded through the same
``from_pretrained`` path as the real weights, behind the real local server."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from eco_widget import Client, JobFailedError
from eco_widget.server import WanRenderer, WeightsUnavailableError
from eco_widget.server._wan import model_frames
from tests.conftest import FAST_POLL, KEY
from tests.waiting import deadline_wait
from tests.wan_tiny import build_tiny_wan

WIDTH, HEIGHT = 112, 64
STEPS = 20  # the API's minimum


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    return str(build_tiny_wan(tmp_path_factory.mktemp("wan") / "tiny-wan"))


@pytest.fixture(scope="session")
def renderer(tiny_model) -> WanRenderer:
    return WanRenderer(tiny_model, width=WIDTH, height=HEIGHT)


def decode(data: bytes) -> tuple[list[np.ndarray], dict]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        facts = {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "rate": stream.average_rate,
            "size": (stream.codec_context.width, stream.codec_context.height),
        }
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return frames, facts


def client_for(server) -> Client:
    return Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL, autosave=False)


class Traced(WanRenderer):
    """The Wan renderer, with the progress it reports kept and, optionally, held at the
    first report past ``hold_at`` until ``release`` is set."""

    def __init__(self, *args, hold_at: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.reports: list[float] = []
        self.hold_at = hold_at
        self.reached, self.release = threading.Event(), threading.Event()

    def render(self, params, progress):
        def report(fraction: float) -> None:
            self.reports.append(fraction)
            progress(fraction)
            if self.hold_at is not None and fraction >= self.hold_at and not self.reached.is_set():
                self.reached.set()
                assert self.release.wait(30)

        return super().render(params, report)


@pytest.mark.parametrize(
    ("asked", "made"), [(1, 1), (2, 5), (4, 5), (5, 5), (6, 9), (33, 33), (34, 37), (81, 81)]
)
def test_frames_are_raised_to_the_next_4k_plus_1(asked, made):
    assert model_frames(asked) == made


def test_a_job_moves_through_real_progress_to_exactly_n_frames(make_server, tiny_model):
    traced = Traced(tiny_model, width=WIDTH, height=HEIGHT, hold_at=0.45)
    server = make_server(renderer=traced)
    with client_for(server) as client:
        job = client.submit(
            "a red balloon over a mountain", num_frames=6, fps=8, seed=3, num_inference_steps=STEPS
        )
        assert job.status == "queued"
        # Held half way through denoising: the API shows the job processing, part done.
        assert traced.reached.wait(60)
        middle = deadline_wait(
            lambda: (snap := client.get(job.id)).progress and snap, 30, "progress"
        )
        assert middle.status == "processing" and 0.4 <= middle.progress < 0.9
        traced.release.set()
        done = client.wait(job)
        data = client.download(done)
    assert done.is_completed
    steps = [p for p in traced.reports if p <= 0.9]
    assert len(steps) == STEPS and steps == sorted(steps) and steps[-1] == pytest.approx(0.9)
    assert traced.reports[-1] == 0.95  # decoded, then encoded
    frames, facts = decode(data)
    assert len(frames) == 6  # 9 made, 3 dropped
    assert facts["codec"] == "h264" and facts["pix_fmt"] == "yuv420p"
    assert facts["rate"] == 8 and facts["size"] == (WIDTH, HEIGHT)
    assert data[4:8] == b"ftyp" and data.index(b"moov") < data.index(b"mdat")  # faststart


def test_the_same_seed_makes_the_same_video(make_server, renderer):
    server = make_server(renderer=renderer)
    with client_for(server) as client:
        first, again, other = (
            client.generate("a koi pond", num_frames=5, seed=seed, num_inference_steps=STEPS)
            for seed in (7, 7, 8)
        )
    assert first.data == again.data
    assert first.data != other.data


def test_a_failed_render_fails_only_its_job(make_server, tiny_model):
    import torch

    broken = WanRenderer(tiny_model, width=WIDTH, height=HEIGHT)
    weight = broken.load().transformer.proj_out.weight
    saved = weight.detach().clone()
    server = make_server(renderer=broken)
    with client_for(server) as client:
        with torch.no_grad():
            weight.fill_(float("nan"))  # damaged weights: the model makes NaNs
        with pytest.raises(JobFailedError) as info:
            client.generate("doomed", num_frames=5, seed=1, num_inference_steps=STEPS)
        assert "NaN" in info.value.job.error.message
        with torch.no_grad():
            weight.copy_(saved)
        video = client.generate("fine again", num_frames=5, seed=1, num_inference_steps=STEPS)
    assert len(decode(video.data)[0]) == 5


def test_sizes_must_be_multiples_of_16(tiny_model):
    with pytest.raises(ValueError, match="multiple of 16"):
        WanRenderer(tiny_model, width=100, height=64)


@pytest.mark.parametrize("model", ["missing-folder", "Wan-AI/no-such-model-here"])
def test_missing_weights_say_how_to_fetch_them(tmp_path, monkeypatch, model):
    # The session is offline (tests/conftest.py): a Hub id is looked up in the cache only.
    lookups: list[str] = []

    def no_lookup(host, *args, **kwargs):
        lookups.append(host)
        raise OSError(f"no network in tests ({host})")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    target = str(tmp_path / model) if model == "missing-folder" else model
    with pytest.raises(WeightsUnavailableError) as info:
        WanRenderer(target, width=WIDTH, height=HEIGHT).load()
    assert lookups == []  # not even tried
    message = str(info.value)
    assert "29 GB" in message and "huggingface-cli download" in message and "--model" in message


def _env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOHASH_")}
    env.update(
        HF_HUB_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf"),
        ECOHASH_HOME=str(tmp_path / "home"),
        ECOHASH_LOCAL_DIR=str(tmp_path / "local"),
        **extra,
    )
    return env


def test_serve_with_missing_weights_ends_with_one_line(tmp_path):
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "eco_widget.cli",
            "serve",
            "--backend",
            "wan",
            "--model",
            str(tmp_path / "nowhere"),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
    )
    assert process.returncode == 1
    last = process.stderr.strip().splitlines()[-1]
    assert "29 GB" in last and "Traceback" not in process.stderr


def test_serve_refuses_a_bad_size_and_model_without_wan(tmp_path):
    for args in (["--backend", "wan", "--size", "100x50"], ["--model", "x"]):
        process = subprocess.run(
            [sys.executable, "-m", "eco_widget.cli", "serve", "--port", "0", *args],
            capture_output=True,
            text=True,
            env=_env(tmp_path),
            timeout=120,
        )
        assert process.returncode == 2, process.stderr
        assert "Traceback" not in process.stderr


def test_base_url_local_makes_real_videos_with_no_key(tmp_path, tiny_model):
    code = (
        "import asyncio, eco_widget\n"
        "with eco_widget.Client(base_url='local') as client:\n"
        "    video = client.generate('a lantern', num_frames=6, seed=2, num_inference_steps=20)\n"
        "    print(video.path, client.account.split('#')[0])\n"
        "async def widget():\n"
        "    w = eco_widget.VideoWidget(client=eco_widget.AsyncClient(base_url='local'),\n"
        "                               num_frames=5, num_inference_steps=20)\n"
        "    w.generate('a widget lantern', seed=3)\n"
        "    video = await w\n"
        "    print(video.path, w.backend.replace(' ', '_'))\n"
        "asyncio.run(widget())\n"
    )
    env = _env(tmp_path, ECOHASH_MODEL=tiny_model, ECOHASH_LOCAL_SIZE=f"{WIDTH}x{HEIGHT}")
    process = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert process.returncode == 0, process.stderr
    path, origin, widget_path, label = process.stdout.split()
    assert origin == f"local:{tmp_path / 'local'}"
    frames, facts = decode(Path(path).read_bytes())
    assert len(frames) == 6 and facts["size"] == (WIDTH, HEIGHT)
    assert len(decode(Path(widget_path).read_bytes())[0]) == 5
    assert label == "local_Wan2.1"


def test_a_client_pointed_at_local_without_weights_ends_with_one_line(tmp_path):
    env = _env(tmp_path, ECOHASH_BASE_URL="local", ECOHASH_MODEL=str(tmp_path / "none"))
    process = subprocess.run(
        [sys.executable, "-m", "eco_widget.cli", "generate", "a red balloon"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert process.returncode == 1
    assert process.stderr.count("\n") == 1 and "29 GB" in process.stderr


def test_out_of_memory_fails_the_job_with_advice_and_the_next_one_runs(
    make_server, tiny_model, monkeypatch
):
    import torch

    # A CPU cannot run out of GPU memory: the pipeline raises what CUDA would, once.
    renderer = WanRenderer(tiny_model, width=WIDTH, height=HEIGHT)
    pipe = renderer.load()
    real_call = type(pipe).__call__
    calls = []

    def call(self, *args, **kwargs):
        calls.append(kwargs["num_frames"])
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_call(self, *args, **kwargs)

    monkeypatch.setattr(type(pipe), "__call__", call)
    server = make_server(renderer=renderer)
    with client_for(server) as client:
        with pytest.raises(JobFailedError) as info:
            client.generate("too big", num_frames=81, seed=1, num_inference_steps=STEPS)
        message = info.value.job.error.message
        assert "out of GPU memory" in message and "--size" in message
        video = client.generate("small enough", num_frames=5, seed=1, num_inference_steps=STEPS)
    assert len(decode(video.data)[0]) == 5 and calls == [81, 5]
