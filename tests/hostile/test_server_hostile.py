"""Prompts that are not Unicode text, from every door: Python, the magic, the command
line (a byte that is not UTF-8 in argv), a batch file and raw HTTP to the local server.

Each is refused with the same ``InvalidParameterError`` naming ``prompt`` before
anything is sent; the server answers 400 before creating a job. Hypothesis then throws
generated prompts (surrogates, control characters, whitespace only, over-long) at
``VideoParams.create`` and at the real server: never another exception, never a 500,
never a job for a refused prompt, and the server accepts exactly what the client does.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eco_widget import Client, InvalidParameterError
from eco_widget._params import MODEL, PROMPT_MAX_CHARS, VideoParams
from eco_widget.notebook._magic_args import MagicUsageError, parse
from eco_widget.server import ServerConfig, ThreadedServer

ROOT = Path(__file__).resolve().parents[2]
KEY = "eco_hostile_prompt_key"
SUBPROCESS_DEADLINE = 60.0
VIDEO = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64


class StillRenderer:
    """A renderer whose video does not depend on the prompt: any text is drawable."""

    def render(self, params: VideoParams, progress: Callable[[float], None]) -> bytes:
        progress(1.0)
        return VIDEO


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    config = ServerConfig(
        api_keys=(KEY,),
        data_dir=tmp_path_factory.mktemp("hostile-prompts"),
        profile="instant",
        renderer=StillRenderer(),
        max_active_per_key=100_000,
        seed=11,
    )
    with ThreadedServer(config) as running:
        yield running


def counted(server: ThreadedServer) -> tuple[int, int]:
    """The submits the server saw and the jobs it holds (any status)."""
    stats = server.stats.for_key(KEY)
    return stats["requests"]["posts"], sum(stats["jobs"].values())


def post_raw(server: ThreadedServer, body: bytes) -> tuple[int, dict[str, Any]]:
    """POST ``body`` exactly as given (no client library re-encoding it)."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(
            "POST",
            "/v1/video/generations",
            body=body,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def submit_body(prompt: str) -> bytes:
    """The submit body, with any lone surrogate as a JSON ``\\udXXX`` escape."""
    return json.dumps({"model": MODEL, "prompt": prompt}, ensure_ascii=True).encode("ascii")


def as_json_reads_it(prompt: str) -> str:
    """The prompt the server decodes from the body: pairs joined, lone ones kept."""
    return json.loads(json.dumps(prompt))


def refusal(prompt: str) -> InvalidParameterError | None:
    """The client's refusal of ``prompt``, or ``None`` when it accepts it."""
    try:
        VideoParams.create(prompt)
    except InvalidParameterError as exc:
        return exc
    return None


# -- the same refusal from every door -------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        pytest.param("\ud800", id="high-alone"),
        pytest.param("caf\udcff", id="shell-byte"),
        pytest.param("a\udfffb", id="low-alone"),
        pytest.param("\ude00\ud83d", id="pair-reversed"),
        pytest.param("\ud83d\ud83d", id="two-highs"),
    ],
)
def test_python_and_the_magic_refuse_a_surrogate_prompt(prompt):
    with pytest.raises(InvalidParameterError) as refused:
        VideoParams.create(prompt)
    assert refused.value.param == "prompt"
    assert "unpaired surrogate" in refused.value.message
    assert "without unpaired surrogates" in refused.value.message  # what is accepted
    refused.value.message.encode("utf-8")  # the message itself is printable text
    with pytest.raises(MagicUsageError, match="prompt is not valid Unicode text"):
        parse(prompt)


def test_a_surrogate_pair_is_joined_into_its_character_as_json_reads_it():
    params = VideoParams.create("smile \ud83d\ude00")
    assert params.prompt == "smile \U0001f600" == json.loads('"smile \\ud83d\\ude00"')
    assert parse("smile \ud83d\ude00").prompt  # the magic accepts it too


def test_a_shell_byte_is_named_in_the_message():
    with pytest.raises(InvalidParameterError) as refused:
        VideoParams.create("caf\udcff")
    assert "character 4" in refused.value.message
    assert "U+DCFF" in refused.value.message
    assert "0xFF" in refused.value.message


def test_the_client_refuses_before_sending(server):
    before = counted(server)
    client = Client(KEY, base_url=server.url, journal=False, autosave=False)
    with client, pytest.raises(InvalidParameterError) as refused:
        client.submit("caf\udcff")
    assert refused.value.param == "prompt"
    assert counted(server) == before


def test_the_server_refuses_a_surrogate_before_creating_a_job(server):
    before_posts, before_jobs = counted(server)
    status, body = post_raw(server, b'{"model": "%s", "prompt": "caf\\udcff"}' % MODEL.encode())
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == "prompt"
    expected = refusal("caf\udcff")
    assert expected is not None
    assert body["error"]["message"] == expected.message  # the client's own message
    assert counted(server) == (before_posts + 1, before_jobs)


def _listener() -> socket.socket:
    """A bare listening socket (no server behind it): a connection would show."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    return sock


def _nothing_connected(sock: socket.socket) -> bool:
    try:
        connection, _ = sock.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


def run_cli(*argv: str | bytes, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "eco_widget.cli", *argv],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=SUBPROCESS_DEADLINE,
    )


def test_cli_generate_with_a_byte_that_is_not_utf8_exits_2_with_one_line():
    with _listener() as listener:
        port = listener.getsockname()[1]
        done = run_cli(
            "generate",
            b"caf\xff au lait",
            "--base-url",
            f"http://127.0.0.1:{port}",
            "--api-key",
            "eco_not_used",
        )
        assert _nothing_connected(listener)
    assert done.returncode == 2, done.stderr
    assert done.stdout == b""
    lines = done.stderr.decode("utf-8").splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ecovideo: error: prompt is not valid Unicode text")
    assert "0xFF" in lines[0]
    assert "Traceback" not in lines[0]


def test_cli_batch_names_the_line_of_an_invalid_prompt(tmp_path):
    jsonl = tmp_path / "prompts.jsonl"
    jsonl.write_bytes(b'{"prompt": "a fine one"}\n\n{"prompt": "caf\\udcff"}\n')
    with _listener() as listener:
        port = listener.getsockname()[1]
        connection = ["--base-url", f"http://127.0.0.1:{port}", "--api-key", "eco_not_used"]
        from_file = run_cli("batch", str(jsonl), *connection)
        from_stdin = run_cli(
            "batch", "-", *connection, stdin=b"fine\ncaf\xff\n"
        )  # text from a pipe: its decoding may keep the byte (surrogateescape) or refuse it
        assert _nothing_connected(listener)
    assert from_file.returncode == 2
    assert from_file.stderr.decode().splitlines() == [
        f"ecovideo: error: {jsonl}:3: prompt is not valid Unicode text: character 4 is an "
        "unpaired surrogate (U+DCFF, which stands for the byte 0xFF of a text not in "
        f"UTF-8); it must be a text of 1 to {PROMPT_MAX_CHARS} characters (not counting "
        "outer whitespace), without unpaired surrogates."
    ]
    assert from_stdin.returncode == 2
    assert len(from_stdin.stderr.decode().splitlines()) == 1
    assert b"Traceback" not in from_stdin.stderr


# -- generated prompts -----------------------------------------------------------------

#: Every code point, lone surrogates included (Hypothesis leaves them out by default).
ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
CONTROL = st.characters(max_codepoint=0x1F) | st.characters(min_codepoint=0x7F, max_codepoint=0x9F)
WHITESPACE = st.sampled_from(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u2029\u3000")


def as_utf16_halves(text: str) -> str:
    """``text`` with each character beyond U+FFFF written as its two surrogates."""
    halves = []
    for ch in text:
        code = ord(ch) - 0x10000
        halves.append(ch if code < 0 else chr(0xD800 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF)))
    return "".join(halves)


def _long(fill: str, pad: str) -> st.SearchStrategy[str]:
    return st.integers(PROMPT_MAX_CHARS - 2, PROMPT_MAX_CHARS + 3).map(
        lambda n: pad + fill * n + pad
    )


PROMPTS = st.one_of(
    st.text(ANY_CHARACTER, max_size=40),
    st.lists(st.one_of(st.text(max_size=8), SURROGATE, CONTROL, WHITESPACE), max_size=12).map(
        "".join
    ),
    st.text(WHITESPACE, max_size=30),
    st.text(CONTROL, min_size=1, max_size=30),
    _long("a", " "),
    _long("\U0001f600", "\u3000"),
    _long("\U0001f600", "").map(as_utf16_halves),  # twice as long for Python, not for JSON
    st.text(ANY_CHARACTER, max_size=20).map(as_utf16_halves),
    st.builds(lambda head, bad: head * 1999 + bad, st.sampled_from("xé"), SURROGATE),
)


@settings(max_examples=100, deadline=None)
@given(prompt=PROMPTS)
def test_create_refuses_every_invalid_prompt_with_invalid_parameter_error(prompt):
    text = as_json_reads_it(prompt)
    valid = 1 <= len(text.strip()) <= PROMPT_MAX_CHARS and not any(
        0xD800 <= ord(ch) <= 0xDFFF for ch in text
    )
    refused = refusal(prompt)  # any other exception fails the test
    if valid:
        assert refused is None
        assert VideoParams.create(prompt).prompt == text
    else:
        assert refused is not None
        assert refused.param == "prompt"
        refused.message.encode("utf-8")  # printable, sendable: no surrogate of the prompt


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt=PROMPTS)
def test_the_server_answers_generated_prompts_like_the_client(server, prompt):
    posts, jobs = counted(server)
    status, body = post_raw(server, submit_body(prompt))
    assert status in (200, 400), body
    refused = refusal(prompt)
    assert refused is None or refused.param == "prompt"
    if refused is None:
        assert status == 200, body
        assert body["prompt"] == as_json_reads_it(prompt) == VideoParams.create(prompt).prompt
        assert counted(server) == (posts + 1, jobs + 1)
    else:
        assert status == 400, body
        assert body["error"] == {
            "type": "invalid_request_error",
            "message": refused.message,
            "param": "prompt",
        }
        assert counted(server) == (posts + 1, jobs)
