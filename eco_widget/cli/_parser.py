"""The ``ecovideo`` argument parser: commands, options, their defaults and ranges."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._config import API_KEY_ENV, BASE_URL_ENV
from .._jobs_table import STATUSES
from .._params import PARAMETERS
from .._shell import DEFAULT_TIMEOUT
from .._version import __version__

__all__ = ["PARAM_FLAGS", "PROG", "build_parser"]

PROG = "ecovideo"

#: The generate options, by parameter name: one per entry of ``PARAMETERS``, whose
#: kind, default, range and help make the option's type, default and help.
PARAM_FLAGS = {
    "num_frames": "--frames",
    "fps": "--fps",
    "num_inference_steps": "--steps",
    "guidance_scale": "--guidance",
    "seed": "--seed",
}


def _seconds(text: str) -> float:
    """argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _count(minimum: int) -> Any:
    """argparse type: a whole number ≥ ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number ≥ {minimum}, got {text!r}")
        return value

    return parse


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _connection_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    where = parent.add_mutually_exclusive_group()
    where.add_argument(
        "--sandbox",
        action="store_true",
        help="use the local sandbox server, started in this process (no key needed)",
    )
    where.add_argument(
        "--base-url",
        metavar="URL",
        help=f"API base URL (default: ${BASE_URL_ENV}, else https://api.ecohash.com)",
    )
    parent.add_argument("--api-key", metavar="KEY", help=f"API key (default: ${API_KEY_ENV})")
    return parent


def _add_generate(commands: Any, connection: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "generate",
        parents=[connection],
        help="make a video from a prompt and save it",
        description="Submit a prompt, wait for the video and save it. Prints "
        "'saved PATH (job ID, seed N, …)' on stdout.",
    )
    parser.add_argument("prompt", nargs="+", metavar="PROMPT", help="the prompt (quotes optional)")
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="file to write, or a directory to write it in "
        "(default: a name from the prompt and seed, in the current directory)",
    )
    _add_parameters(parser, per_line=False)
    _add_timeout(parser, "the job goes on")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(command_name="generate")


def _add_parameters(parser: argparse.ArgumentParser, *, per_line: bool) -> None:
    """The parameter options; for a batch they are defaults that a line may override."""
    title = "defaults for the lines that do not set them" if per_line else "generation parameters"
    group = parser.add_argument_group(title)
    for name, flag in PARAM_FLAGS.items():
        spec = PARAMETERS[name]
        default = "random" if spec.default is None else _number(spec.default)
        group.add_argument(
            flag,
            dest=name,
            type=spec.kind,
            default=None if per_line else spec.default,
            metavar="N" if spec.kind is int else "X",
            help=f"{spec.help}; {_number(spec.minimum)} to {_number(spec.maximum)}, "
            f"default {default}",
        )


def _add_timeout(parser: argparse.ArgumentParser, after: str) -> None:
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up waiting after this long; {after} (default {DEFAULT_TIMEOUT:g})",
    )


def _add_journal_commands(commands: Any, connection: argparse.ArgumentParser) -> None:
    jobs = commands.add_parser(
        "jobs",
        help="list the jobs in the journal",
        description="List the jobs in the local job journal, newest first: where each "
        "video was saved, or what is missing.",
    )
    jobs.add_argument("--status", choices=STATUSES, help="only the jobs with this status")
    jobs.add_argument(
        "--limit",
        type=_count(0),
        default=50,
        metavar="N",
        help="the newest N jobs (default 50; 0: every job)",
    )
    jobs.add_argument("--json", action="store_true", help="one JSON object per line")
    jobs.set_defaults(command_name="jobs")

    resume = commands.add_parser(
        "resume",
        parents=[connection],
        help="save the videos of unfinished jobs",
        description="Pick up this account's jobs that the journal has not seen saved "
        "(submitted by any process): wait for those still running and save every "
        "finished video. Prints 'saved PATH (job ID, …)' per video on stdout.",
    )
    resume.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="folder to save the videos in (default: the videos folder of the data folder)",
    )
    _add_timeout(resume, "the jobs go on")
    resume.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    resume.set_defaults(command_name="resume")

    batch = commands.add_parser(
        "batch",
        parents=[connection],
        help="make a video of each line of a file",
        description="Make a video of each prompt of FILE: one prompt per line (blank lines "
        "and lines starting with # are skipped), or with --format jsonl (the default for "
        ".jsonl files) one JSON object per line: "
        '{"prompt": "...", "num_frames": 33, "seed": 7}. Every line is checked before '
        "anything is sent. Running the same command again (from the same folder) resumes the "
        "batch: saved videos "
        "are kept, unfinished jobs are waited for, nothing is submitted twice.",
    )
    batch.add_argument("file", metavar="FILE", help="the prompts; - reads standard input")
    batch.add_argument(
        "--format",
        choices=("auto", "text", "jsonl"),
        default="auto",
        help="auto (default): jsonl for .jsonl and .ndjson files, else text",
    )
    batch.add_argument(
        "--concurrency",
        type=_count(1),
        default=5,
        metavar="N",
        help="jobs at once (default 5, the account's limit)",
    )
    batch.add_argument(
        "--out",
        metavar="TEMPLATE",
        help="where each video goes: a folder (clips/) or a pattern with {index} or {job_id} "
        "and {seed} {slug} {num_frames} {fps}, e.g. clips/{index:03d}-{slug}.mp4 "
        "(default: the videos folder of the data folder)",
    )
    _add_parameters(batch, per_line=True)
    _add_timeout(batch, "the jobs go on")
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    batch.set_defaults(command_name="batch")


def _add_get_download(commands: Any, connection: argparse.ArgumentParser) -> None:
    get = commands.add_parser(
        "get", parents=[connection], help="show a job", description="Show a job's status."
    )
    get.add_argument("job_id", metavar="ID", help="the job id (vid_…)")
    get.add_argument("--json", action="store_true", help="print the job as JSON")
    get.set_defaults(command_name="get")
    download = commands.add_parser(
        "download",
        parents=[connection],
        help="save a completed job's video",
        description="Save a completed job's video (written atomically).",
    )
    download.add_argument("job_id", metavar="ID", help="the job id (vid_…)")
    download.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="file to write, or a directory to write it in (default: the current directory)",
    )
    download.set_defaults(command_name="download")


def _size(text: str) -> tuple[int, int]:
    """``WxH`` → ``(width, height)``, both multiples of 16."""
    from .._local_engine import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_serve(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="run the local API server",
        description="Run the local Ecohash video API server (Ctrl-C stops it).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        metavar="KEY",
        help=f"an accepted key, repeatable (default: ${API_KEY_ENV}, else a new one, shown once)",
    )
    parser.add_argument(
        "--backend",
        choices=("sandbox", "wan"),
        default="sandbox",
        help="sandbox: procedural placeholder videos (default); wan: Wan2.1 T2V 1.3B through "
        "diffusers (extra 'local'; a GPU)",
    )
    parser.add_argument(
        "--model",
        metavar="PATH_OR_ID",
        help="with --backend wan: a diffusers folder or Hugging Face id "
        "(default $ECOHASH_MODEL, else Wan-AI/Wan2.1-T2V-1.3B-Diffusers)",
    )
    parser.add_argument(
        "--size",
        type=_size,
        metavar="WxH",
        help="with --backend wan: video size, multiples of 16 (default 832x480)",
    )
    parser.add_argument(
        "--profile",
        choices=("instant", "fast", "realistic"),
        default=None,
        help="timing: instant, fast (a few seconds, the default) or realistic (1.5–3 min); "
        "with --backend wan the render's own time (instant) is the default",
    )
    parser.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="where jobs and videos are kept"
    )
    parser.add_argument(
        "--time-scale", type=float, default=1.0, metavar="X", help="multiply every duration"
    )
    parser.add_argument(
        "--url-ttl",
        type=float,
        default=86400.0,
        metavar="SECONDS",
        help="how long video URLs stay valid (default 86400)",
    )
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the address clients reach the server at, for the video URLs it hands out "
        "(default: the address it listens on; never the request's Host header)",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up on a request body that does not arrive within this long (default 10)",
    )
    faults = parser.add_argument_group("fault injection (all off by default)")
    for flag, kind, text in (
        ("--error-rate", float, "fraction of GETs answered 500 or 503"),
        ("--drop-rate", float, "fraction of GETs whose connection drops mid-response"),
        ("--slow-rate", float, "fraction of GETs delayed by --slow-seconds"),
        ("--slow-seconds", float, "delay of a slow GET (default 1)"),
        ("--burst-429-every", int, "after every N API requests of a key, answer 429…"),
        ("--burst-429-length", int, "…to its next M job reads"),
        ("--post-drop-rate", float, "fraction of submits dropped after the job was created"),
    ):
        faults.add_argument(flag, type=kind, metavar="N" if kind is int else "X", help=text)
    parser.set_defaults(command_name="serve")


def build_parser() -> argparse.ArgumentParser:
    """The ``ecovideo`` argument parser."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Short videos from text (Wan2.1 T2V 1.3B) through the Ecohash video API.",
        epilog=f"The key and URL also come from {API_KEY_ENV} and {BASE_URL_ENV}. "
        "Try it without a key: ecovideo generate --sandbox a red balloon at dawn",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    connection = _connection_options()
    _add_generate(commands, connection)
    _add_get_download(commands, connection)
    _add_journal_commands(commands, connection)
    _add_serve(commands)
    return parser
