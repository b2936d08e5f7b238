"""``ecovideo jobs``, ``resume`` and ``batch`` against the real local server: in-process
through ``main(argv)`` (with fast polling) and as subprocesses, each test with its own
data folder and journal."""

from __future__ import annotations

import functools
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest

from eco_widget import Client
from eco_widget.cli import _main as cli_module
from eco_widget.cli import main
from eco_widget.server import SandboxRenderer
from tests.conftest import FAST_POLL, KEY

ROOT = Path(__file__).resolve().parents[1]
FAST = ("--frames", "5", "--fps", "8", "--steps", "20")
SAVED = re.compile(r"^saved (?P<path>.+) \(job (?P<id>vid_\S+), seed (?P<seed>\d+), .+\)$")
PROMPTS = [
    "a red balloon over a mountain at dawn",
    "a paper airplane in a library",
    "a koi pond in the rain",
    "a lighthouse in a storm",
    "a fox running through snow",
    "a lantern on a dark river",
    "a train crossing a desert",
]


class FailingRenderer(SandboxRenderer):
    """The sandbox's renderer, except that prompts containing FAIL fail."""

    def render(self, params: Any, progress: Callable[[float], None]) -> bytes:
        if "FAIL" in params.prompt:
            raise RuntimeError("the render broke")
        return super().render(params, progress)


class GatedRenderer(SandboxRenderer):
    """The sandbox's renderer, holding every render until ``gate`` is set."""

    def __init__(self, gate: threading.Event):
        super().__init__(width=64, height=48)
        self.gate = gate

    def render(self, params: Any, progress: Callable[[float], None]) -> bytes:
        if not self.gate.wait(timeout=120):
            raise RuntimeError("the test never opened the gate")
        return super().render(params, progress)


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A private data folder, tmp_path as the cwd, no key or URL from the environment;
    the command's clients poll fast."""
    folder = tmp_path / "home"
    monkeypatch.setenv("ECOHASH_HOME", str(folder))
    for name in ("ECOHASH_API_KEY", "ECOHASH_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_module, "Client", functools.partial(Client, poll_policy=FAST_POLL))
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``ecovideo ARGV`` in-process: the exit status, stdout and stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def at(server: Any) -> tuple[str, ...]:
    return ("--base-url", server.url, "--api-key", KEY)


def posts(server: Any) -> int:
    return server.stats.for_key(KEY)["requests"]["posts"]


def saved_lines(out: str) -> list[re.Match[str]]:
    matches = [SAVED.match(line) for line in out.splitlines()]
    assert all(matches), out
    return [match for match in matches if match is not None]


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ecovideo: error: "), lines[0]
    return lines[0]


def subprocess_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ECOHASH_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["ECOHASH_HOME"] = str(home)
    env["ECOHASH_SANDBOX_DIR"] = str(home.parent / "sandbox")
    env["ECOHASH_SANDBOX_PROFILE"] = "instant"
    return env


def ecovideo(home: Path, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m eco_widget.cli ARGS`` in another process, with the key in its
    environment."""
    env = subprocess_env(home)
    if key is not None:
        env["ECOHASH_API_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "eco_widget.cli", *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- batch --------------------------------------------------------------------------------
def test_batch_of_seven_prompts_makes_seven_files_and_resumes(
    make_server: Any, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    server = make_server()
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# seven prompts\n\n" + "\n".join(PROMPTS) + "\n\n")

    code, out, err = run(capsys, "batch", "prompts.txt", "--out", "clips/", *FAST, *at(server))
    assert code == 0, err
    first = saved_lines(out)
    assert [Path(match["path"]).name[:4] for match in first] == [f"{i:03d}-" for i in range(7)]
    assert all(match["path"].startswith("clips" + os.sep) for match in first)
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == sorted(
        Path(match["path"]).name for match in first
    )
    assert frame_count(tmp_path / first[6]["path"]) == 5
    assert posts(server) == 7
    assert err.splitlines()[-1] == "7 of 7 videos saved"
    assert "prompts.txt:3  " in err  # progress lines name the line of the file
    assert KEY not in out + err

    code, again_out, err = run(
        capsys, "batch", "prompts.txt", "--out", "clips/", *FAST, *at(server)
    )
    assert code == 0, err
    assert again_out == out  # same paths, same jobs, same seeds
    assert posts(server) == 7  # nothing submitted again


def test_batch_reports_failed_lines_and_retries_only_those(
    make_server: Any, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    server = make_server(renderer=FailingRenderer(width=64, height=48))
    lines = ["a calm lake", "FAIL this one", "a windmill", "FAIL again"]
    (tmp_path / "mixed.txt").write_text("\n".join(lines) + "\n")

    code, out, err = run(capsys, "batch", "mixed.txt", *FAST, *at(server))
    assert code == 1
    assert len(saved_lines(out)) == 2
    assert "2 of 4 videos saved; 2 failed:" in err
    assert "  mixed.txt:2: job vid_" in err and "  mixed.txt:4: job vid_" in err
    assert "Traceback" not in err
    assert posts(server) == 4

    code, again_out, err = run(capsys, "batch", "mixed.txt", *FAST, *at(server))
    assert code == 1
    assert again_out == out
    assert posts(server) == 6  # only the two failed lines were tried again


LONG = "x" * 2001
BAD_LINES = [  # (file name, its text, the start of the error after "ecovideo: error: ")
    ("p.txt", f"a cat\n# comment\n\n{LONG}\n", "p.txt:4: prompt has 2001 characters"),
    ("i.jsonl", '{"prompt":"a"}\n{"prompt":"b","fr":3}', "i.jsonl:2: unknown parameter 'fr'"),
    ("i.jsonl", '{"prompt":"a"}\n\n{"prompt":"b","num_frames":0}', "i.jsonl:3: num_frames must be"),
    ("i.jsonl", '{"prompt": "a", "guidance_scale": "high"}', "i.jsonl:1: guidance_scale must be"),
    ("i.jsonl", '{"num_frames": 5}\n', "i.jsonl:1: no prompt"),
    ("i.jsonl", '{"prompt": "a cat"\n', "i.jsonl:1: not valid JSON"),
    ("i.jsonl", '["a cat"]\n', "i.jsonl:1: expected a JSON object"),
    ("empty.txt", "\n# nothing here\n", "empty.txt has no prompts"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "says"), BAD_LINES)
def test_a_bad_line_exits_2_before_anything_is_sent(
    make_server: Any,
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    text: str,
    says: str,
):
    server = make_server()
    (tmp_path / name).write_text(text)
    code, out, err = run(capsys, "batch", name, *at(server))
    assert code == 2
    assert out == ""
    assert one_error_line(err).startswith(f"ecovideo: error: {says}")
    assert posts(server) == 0
    assert not home.exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--frames", "100"], "--frames: num_frames must be an integer from 1 to 81"),
        (["--out", "clips/{slug}.mp4"], "path_template must be a pattern with {index}"),
        (["--out", "clips/{nope}.mp4"], "path_template "),
    ],
)
def test_bad_options_exit_2_before_anything_is_sent(
    make_server: Any,
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    says: str,
):
    server = make_server()
    (tmp_path / "prompts.txt").write_text("a cat\n")
    code, _, err = run(capsys, "batch", "prompts.txt", *args, *at(server))
    assert code == 2
    assert one_error_line(err).startswith(f"ecovideo: error: {says}")
    assert posts(server) == 0


def test_a_missing_file_exits_2(home: Path, capsys: pytest.CaptureFixture[str]):
    code, _, err = run(capsys, "batch", "nowhere.txt", "--sandbox")
    assert code == 2
    assert one_error_line(err) == (
        "ecovideo: error: cannot read nowhere.txt: No such file or directory"
    )


def test_batch_from_stdin_in_a_subprocess(tmp_path: Path):
    """JSON lines on stdin, the embedded sandbox, plain progress lines on a pipe."""
    home = tmp_path / "home"
    lines = [{"prompt": "a heron", "seed": 11}, {"prompt": "a kite", "num_frames": 3}]
    result = subprocess.run(
        [sys.executable, "-m", "eco_widget.cli", "batch", "-", "--format", "jsonl",
         "--sandbox", *FAST, "--out", "out/{index}-{seed}.mp4"],
        input="".join(json.dumps(line) + "\n" for line in lines),
        env=subprocess_env(home),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    first, second = saved_lines(result.stdout)
    assert first["path"] == os.path.join("out", "0-11.mp4")
    assert frame_count(tmp_path / first["path"]) == 5
    assert frame_count(tmp_path / second["path"]) == 3
    assert re.search(r"^<stdin>:1  vid_\S+  saved$", result.stderr, re.MULTILINE)
    assert result.stderr.splitlines()[-1] == "2 of 2 videos saved"
    assert "Traceback" not in result.stderr


class Lines:
    """The lines of a stream, read by a thread; ``timeout`` only guards against a hang."""

    def __init__(self, stream: Any, timeout: float = 60):
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._timeout = timeout
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _next(self, what: str) -> str | None:
        """The next line (``None`` at the end); the test fails after ``timeout`` seconds
        without one."""
        try:
            return self._queue.get(timeout=self._timeout)
        except queue.Empty:
            pytest.fail(
                f"no line for {self._timeout:.0f} s waiting for {what}; read so far:\n"
                + "\n".join(self.seen)
            )

    def until(self, done: Callable[[list[str]], bool]) -> list[str]:
        """Read until ``done(lines read so far)``."""
        while not done(self.seen):
            line = self._next("the lines expected")
            if line is None:
                pytest.fail("the command ended early:\n" + "\n".join(self.seen))
            self.seen.append(line)
        return list(self.seen)

    def rest(self) -> list[str]:
        """Every line left, up to the end of the stream."""
        start = len(self.seen)
        while (line := self._next("the end of the output")) is not None:
            self.seen.append(line)
        return self.seen[start:]


def test_ctrl_c_leaves_the_batch_running_and_the_same_command_resumes_it(
    make_server: Any, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    gate = threading.Event()
    server = make_server(renderer=GatedRenderer(gate))
    (tmp_path / "three.txt").write_text("a heron\na kite\na canoe\n")
    args = ["batch", "three.txt", "--out", "clips/", *FAST, "--base-url", server.url]
    env = {**subprocess_env(home), "ECOHASH_API_KEY": KEY}
    try:
        with subprocess.Popen(
            [sys.executable, "-m", "eco_widget.cli", *args],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as batch:
            # every line is journaled and shown as queued or processing (none can finish)
            stderr = Lines(batch.stderr)
            shown = stderr.until(lambda seen: len({line.split()[0] for line in seen}) == 3)
            batch.send_signal(signal.SIGINT)
            rest = stderr.rest()
            assert batch.wait(timeout=60) == 130
            assert batch.stdout.read() == ""
        assert all(line.split()[2] in ("queued", "processing") for line in shown), shown
        assert rest[-1] == (
            "ecovideo: error: interrupted; the batch's jobs go on on the server: run the same "
            "ecovideo batch command again to resume it (nothing is submitted twice)"
        )
        assert not any("Traceback" in line for line in rest), rest
        assert posts(server) == 3
    finally:
        gate.set()

    code, out, err = run(capsys, *args, "--api-key", KEY)
    assert code == 0, err
    assert len(saved_lines(out)) == 3
    assert posts(server) == 3  # the jobs of the interrupted run were picked up


# -- resume -------------------------------------------------------------------------------
def test_resume_saves_a_job_another_process_submitted(make_server: Any, home: Path):
    server = make_server()
    with Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL) as client:
        job = client.submit("a lighthouse in the fog", num_frames=5, fps=8, seed=321)

    result = ecovideo(home, "resume", "--base-url", server.url, key=KEY)
    assert result.returncode == 0, result.stderr
    (match,) = saved_lines(result.stdout)
    assert (match["id"], match["seed"]) == (job.id, "321")
    path = home.parent / match["path"]  # shown relative to the command's folder
    assert path.parent == home / "videos"
    assert frame_count(path) == 5
    assert "1 video recovered" in result.stderr
    assert KEY not in result.stdout + result.stderr
    assert posts(server) == 1

    again = ecovideo(home, "resume", "--base-url", server.url, key=KEY)
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert "nothing to resume" in again.stderr

    listed = ecovideo(home, "jobs")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(job.id))
    assert row.split()[1] == "completed" and str(path) in row


def test_resume_into_a_folder_and_a_job_that_failed(
    make_server: Any, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    server = make_server(renderer=FailingRenderer(width=64, height=48))
    with Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL) as client:
        good = client.submit("a quiet harbour", num_frames=3, fps=8)
        bad = client.submit("FAIL loudly", num_frames=3, fps=8)

    code, out, err = run(capsys, "resume", "-o", "saved", *at(server))
    assert code == 1
    (match,) = saved_lines(out)
    assert match["id"] == good.id
    assert Path(match["path"]).parent == Path("saved")
    assert (tmp_path / match["path"]).is_file()
    assert f"  {bad.id}: job {bad.id} failed: " in err
    assert "Traceback" not in err

    code, out, err = run(capsys, "resume", *at(server))
    assert (code, out) == (0, "")  # the failure was reported once
    assert "nothing to resume" in err


# -- Ctrl-C ------------------------------------------------------------------------------
class Interrupted:
    """Stands in for Client: every long call is interrupted with Ctrl-C."""

    journal = None
    account = "sandbox#0123456789ab"

    def __init__(self, api_key: str | None = None, **options: Any):
        pass

    def __enter__(self) -> Interrupted:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def resume(self, **options: Any) -> Any:
        raise KeyboardInterrupt

    def generate_many(self, items: Any, **options: Any) -> Any:
        raise KeyboardInterrupt


def test_ctrl_c_in_resume_and_batch_says_how_to_go_on(
    monkeypatch: pytest.MonkeyPatch, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setattr(cli_module, "Client", Interrupted)
    code, _, err = run(capsys, "resume", "--sandbox")
    assert code == 130
    assert one_error_line(err) == (
        "ecovideo: error: interrupted; the jobs go on in the sandbox: run "
        "`ecovideo resume --sandbox` again to save their videos"
    )
    (tmp_path / "p.txt").write_text("a cat\n")
    code, _, err = run(capsys, "batch", "p.txt", "--base-url", "http://h:1", "--api-key", "sekrit")
    assert code == 130
    line = one_error_line(err)
    assert "the batch's jobs go on on the server: run the same ecovideo batch command again" in line
    assert "sekrit" not in err
