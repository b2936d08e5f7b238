"""The ``ecovideo`` command: run as a subprocess against the sandbox and a served server,
and in-process for argument parsing, error wording and the progress displays."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from eco_widget import (
    Client,
    Job,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    PollPolicy,
    VideoParams,
)
from eco_widget._models import JobError
from eco_widget._polling import TimingModel
from eco_widget.cli import _main as cli_module
from eco_widget.cli import main
from eco_widget.cli._errors import missing_extra
from eco_widget.cli._progress import BarDisplay, LineDisplay

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(
    r"^saved (?P<path>.+) \(job (?P<id>vid_\S+), seed (?P<seed>\d+), (?P<duration>[\d.]+) s, "
    r"(?P<frames>\d+) frames at (?P<fps>\d+) fps\)$"
)
FAST = ("--frames", "5", "--fps", "8", "--steps", "20")


# -- helpers ------------------------------------------------------------------------------
@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: the instant sandbox and the data folder in tmp_path, no key or
    URL inherited."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("ECOHASH_")}
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), clean.get("PYTHONPATH")]))
    clean["ECOHASH_SANDBOX_DIR"] = str(tmp_path / "sandbox")
    clean["ECOHASH_SANDBOX_PROFILE"] = "instant"
    clean["ECOHASH_HOME"] = str(tmp_path / "home")
    return clean


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """In-process: no key or URL from the environment, the data folder in tmp_path, and
    tmp_path as the cwd."""
    for name in ("ECOHASH_API_KEY", "ECOHASH_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def ecovideo(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m eco_widget.cli ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "eco_widget.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def summary(result: subprocess.CompletedProcess[str]) -> re.Match[str]:
    """The ``saved …`` line of a successful run."""
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    match = SUMMARY.match(lines[0])
    assert match is not None, lines[0]
    return match


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def one_error_line(stderr: str) -> str:
    """The run's stderr must be exactly one ``ecovideo: error: …`` line."""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ecovideo: error: "), lines[0]
    return lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the server exited with {server.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"the server did not listen on port {port}: {log.read_text()}")


@pytest.fixture
def serve(env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """Start ``ecovideo serve ARGS`` on a free port; yields (port, stderr log path)."""
    servers: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> tuple[int, Path]:
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as err:
            server = subprocess.Popen(
                [sys.executable, "-m", "eco_widget.cli", "serve", "--port", str(port), *args],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        servers.append(server)
        wait_until_listening(port, server, log)
        return port, log

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=15)


# -- generate, get, download (subprocess, sandbox) ---------------------------------------
def test_generate_saves_a_video_with_the_frames_asked(env: dict[str, str], tmp_path: Path):
    result = ecovideo(
        env, tmp_path, "generate", "a", "red balloon", "--sandbox", *FAST, "--seed", "1234",
        "-o", "out.mp4",
    )  # fmt: skip
    match = summary(result)
    assert match["path"] == "out.mp4"
    assert (match["seed"], match["frames"], match["fps"]) == ("1234", "5", "8")
    assert float(match["duration"]) == 5 / 8
    assert frame_count(tmp_path / "out.mp4") == 5
    progress = result.stderr.splitlines()
    assert progress[0] == f"queued  {match['id']} seed 1234"
    assert re.fullmatch(r"completed in \d+\.\d s", progress[-2])
    assert progress[-1] == "downloading"


def test_same_seed_same_bytes_and_default_names(env: dict[str, str], tmp_path: Path):
    args = ("generate", "paper airplane", "--sandbox", *FAST, "--seed", "42")
    first = summary(ecovideo(env, tmp_path, *args, "-o", "videos/"))
    second = summary(ecovideo(env, tmp_path, *args, "--quiet"))
    assert first["path"] == os.path.join("videos", "paper-airplane-s42.mp4")
    assert second["path"] == "paper-airplane-s42.mp4"
    assert first["id"] != second["id"]
    assert (tmp_path / first["path"]).read_bytes() == (tmp_path / second["path"]).read_bytes()


def test_get_and_download_a_generated_job(env: dict[str, str], tmp_path: Path):
    made = summary(ecovideo(env, tmp_path, "generate", "a fox", "--sandbox", *FAST, "-q"))
    job_id = made["id"]

    shown = ecovideo(env, tmp_path, "get", job_id, "--sandbox")
    assert shown.returncode == 0, shown.stderr
    assert re.search(rf"^id\s+{job_id}$", shown.stdout, re.MULTILINE)
    assert re.search(r"^status\s+completed$", shown.stdout, re.MULTILINE)

    as_json = ecovideo(env, tmp_path, "get", job_id, "--sandbox", "--json")
    assert as_json.returncode == 0, as_json.stderr
    job = json.loads(as_json.stdout)
    assert (job["id"], job["status"]) == (job_id, "completed")
    assert job["duration_seconds"] == 5 / 8

    fetched = summary(ecovideo(env, tmp_path, "download", job_id, "--sandbox", "-o", "copy.mp4"))
    assert (fetched["path"], fetched["id"]) == ("copy.mp4", job_id)
    assert (tmp_path / "copy.mp4").read_bytes() == (tmp_path / made["path"]).read_bytes()


def test_unknown_job_is_one_error_line(env: dict[str, str], tmp_path: Path):
    result = ecovideo(env, tmp_path, "get", "vid_doesnotexist", "--sandbox")
    assert result.returncode == 1
    assert "vid_doesnotexist" in one_error_line(result.stderr)


# -- errors (subprocess) ------------------------------------------------------------------
def test_validation_error_exits_2_before_anything(env: dict[str, str], tmp_path: Path):
    result = ecovideo(env, tmp_path, "generate", "hello", "--sandbox", "--frames", "100")
    assert result.returncode == 2
    assert one_error_line(result.stderr) == (
        "ecovideo: error: num_frames must be an integer from 1 to 81; got 100."
    )
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_missing_key_says_how_to_set_it(env: dict[str, str], tmp_path: Path):
    result = ecovideo(env, tmp_path, "generate", "hello", "--base-url", "http://127.0.0.1:9")
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert "ECOHASH_API_KEY" in line
    assert "--api-key" in line
    assert "--sandbox" in line


# -- serve (subprocess) -------------------------------------------------------------------
def test_serve_answers_a_client(serve: Any, tmp_path: Path):
    port, log = serve("--profile", "instant", "--api-key", "testkey", "--data-dir", "data")
    policy = PollPolicy().scaled(0.02)
    with Client(api_key="testkey", base_url=f"http://127.0.0.1:{port}", poll_policy=policy) as c:
        video = c.generate("a lighthouse", num_frames=3, fps=8, num_inference_steps=20)
        video.save(tmp_path / "served.mp4")
    assert frame_count(tmp_path / "served.mp4") == 3
    assert (tmp_path / "data").is_dir()
    assert "testkey" not in log.read_text()


def test_serve_without_key_makes_one_and_shows_it_once(serve: Any):
    port, log = serve("--profile", "instant", "--data-dir", "data")
    keys = re.findall(r"\beco_[A-Za-z0-9_-]{20,}", log.read_text())
    assert len(keys) == 1
    url = f"http://127.0.0.1:{port}"
    with Client(api_key=keys[0], base_url=url) as client, pytest.raises(NotFoundError):
        client.get("vid_nope")


# -- parsing and wording (in-process) -----------------------------------------------------
def test_version(capsys: pytest.CaptureFixture[str]):
    assert main(["--version"]) == 0
    assert re.fullmatch(r"ecovideo \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def test_no_command_shows_usage(capsys: pytest.CaptureFixture[str]):
    assert main([]) == 2
    assert "usage: ecovideo" in capsys.readouterr().err


def test_generate_help_shows_defaults_and_ranges(capsys: pytest.CaptureFixture[str]):
    assert main(["generate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "1 to 81, default 33" in text
    assert "0 to 20, default 5" in text
    assert "20 to 80, default 50" in text
    assert "default random" in text


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--frames", "100"], "num_frames"),
        (["--frames", "0"], "num_frames"),
        (["--fps", "61"], "fps"),
        (["--steps", "10"], "num_inference_steps"),
        (["--guidance", "25"], "guidance_scale"),
        (["--guidance", "nan"], "guidance_scale"),
        (["--seed", "-1"], "seed"),
        (["--seed", str(2**32)], "seed"),
    ],
)
def test_out_of_range_exits_2_naming_the_parameter(
    no_env: Path, capsys: pytest.CaptureFixture[str], args: list[str], named: str
):
    assert main(["generate", "a", "cat", "--sandbox", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ecovideo: error: {named} must be ")
    assert err.count("\n") == 1
    assert list(no_env.iterdir()) == []


def test_empty_prompt_exits_2(no_env: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["generate", "  ", "--sandbox"]) == 2
    assert capsys.readouterr().err.startswith("ecovideo: error: prompt is empty")


@pytest.mark.parametrize(
    "args",
    [
        ["generate", "x", "--frames", "abc"],
        ["generate", "x", "--guidance", "lots"],
        ["generate", "x", "--timeout", "0"],
        ["generate", "x", "--sandbox", "--base-url", "http://localhost:1"],
        ["generate"],
        ["get"],
        ["serve", "--profile", "turbo"],
        ["serve", "--port", "http"],
        ["frobnicate"],
    ],
)
def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]):
    assert main(args) == 2
    assert "usage: ecovideo" in capsys.readouterr().err


def test_missing_key_in_process(no_env: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["get", "vid_x", "--base-url", "https://example.invalid"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ecovideo: error: No API key for https://example.invalid: set ")


def test_a_bad_fault_rate_is_a_usage_error(no_env: Path, capsys: pytest.CaptureFixture[str]):
    args = ["serve", "--api-key", "k", "--data-dir", str(no_env), "--error-rate", "2"]
    assert main(args) == 2
    assert capsys.readouterr().err.startswith("ecovideo: error: error_rate must be")


def test_missing_extra_names_the_pip_command():
    error = missing_extra(ModuleNotFoundError("No module named 'uvicorn'", name="uvicorn"))
    assert "pip install 'eco_widget[sandbox]'" in error.message
    assert error.code == 1


# -- what happens mid-wait (in-process, a scripted client) --------------------------------
PARAMS = VideoParams.create("a cat", seed=7)
QUEUED = Job(id="vid_test", status="queued", params=PARAMS)


class ScriptedClient:
    """Stands in for Client: generate submits (QUEUED) and waits as the test says."""

    wait_does: Any = None

    def __init__(self, api_key: str | None = None, *, base_url: str | None = None):
        self.timing = TimingModel(PollPolicy().scaled(0.01))

    def __enter__(self) -> ScriptedClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def generate(self, prompt: str, *, on_update: Any = None, **params: Any) -> Any:
        """Submits (QUEUED, told to ``on_update``), then waits as the test says; a
        failed job raises as the real client's does."""
        on_update(QUEUED)
        job = type(self).wait_does(QUEUED)
        if job.is_failed:
            raise JobFailedError(job)
        raise AssertionError("the scripted tests end before a download")


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch, no_env: Path) -> type[ScriptedClient]:
    monkeypatch.setattr(cli_module, "Client", ScriptedClient)
    return ScriptedClient


def _raise(exc: BaseException) -> Any:
    def wait(job: Job) -> Job:
        raise exc

    return wait


def test_ctrl_c_says_the_job_goes_on(scripted: Any, capsys: pytest.CaptureFixture[str]):
    scripted.wait_does = _raise(KeyboardInterrupt())
    assert main(["generate", "a cat", "--sandbox"]) == 130
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("ecovideo: error: interrupted; job vid_test: it goes on in the sandbox")
    assert "`ecovideo download vid_test --sandbox`" in err


def test_timeout_says_how_to_resume(scripted: Any, capsys: pytest.CaptureFixture[str]):
    scripted.wait_does = _raise(JobTimeoutError(QUEUED, 3.0))
    assert main(["generate", "a cat", "--base-url", "http://h:1", "--api-key", "sekrit"]) == 1
    err = capsys.readouterr().err
    assert "job vid_test is still queued after 3 s; it goes on on the server" in err
    assert "`ecovideo get vid_test --base-url http://h:1`" in err
    assert "`ecovideo download vid_test --base-url http://h:1`" in err
    assert "sekrit" not in err


def test_a_failed_job_exits_1(scripted: Any, capsys: pytest.CaptureFixture[str]):
    failed = Job(id="vid_test", status="failed", error=JobError("generation_error", "GPU fell"))
    scripted.wait_does = lambda job: failed
    assert main(["generate", "a cat", "--sandbox", "-q"]) == 1
    assert capsys.readouterr().err == "ecovideo: error: job vid_test failed: GPU fell\n"


# -- the displays -------------------------------------------------------------------------
def test_line_display_prints_one_line_per_phase():
    stream = io.StringIO()
    display = LineDisplay(stream, TimingModel(), PARAMS)
    display.submitted(QUEUED)
    display.update(QUEUED)
    display.update(Job(id="vid_test", status="processing", progress=0.5))
    display.update(Job(id="vid_test", status="processing", progress=0.7))
    display.update(Job(id="vid_test", status="completed", video_url="http://v"))
    display.downloading()
    display.close()
    lines = stream.getvalue().splitlines()
    assert lines[:2] == ["queued  vid_test seed 7", "processing"]
    assert re.fullmatch(r"completed in \d+\.\d s", lines[2])
    assert lines[3:] == ["downloading"]


def test_bar_display_shows_phase_id_and_eta():
    stream = io.StringIO()
    now = [100.0]
    display = BarDisplay(stream, TimingModel(), PARAMS, clock=lambda: now[0], tick=None)
    display.submitted(QUEUED)
    now[0] += 65
    display.update(Job(id="vid_test", status="processing", progress=0.25))
    shown = stream.getvalue()
    display.downloading()
    display.close()
    assert "queued" in shown
    assert "processing" in shown
    assert "vid_test" in shown
    assert "01:05 elapsed" in shown
    assert "ETA ~" in shown
    assert "downloading" in stream.getvalue()


def test_bar_display_ticks_between_snapshots():
    stream = io.StringIO()
    display = BarDisplay(stream, TimingModel(), PARAMS, tick=0.01)
    display.submitted(QUEUED)
    deadline = time.monotonic() + 5
    while stream.getvalue().count("queued") < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    display.close()
    assert stream.getvalue().count("queued") >= 4
