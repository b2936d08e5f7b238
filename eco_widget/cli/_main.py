"""``ecovideo``: short videos from text, from the terminal.

::

    ecovideo generate a red balloon over a mountain at dawn --sandbox
    ecovideo get vid_abc123 [--json]
    ecovideo download vid_abc123 [-o FILE]
    ecovideo jobs [--status completed] [--json]
    ecovideo resume [--sandbox]
    ecovideo batch prompts.txt [--out clips/] [--frames 33]
    ecovideo serve [--port 8000] [--profile fast]

Exit status: 0 done; 1 a job failed (or could not be recovered), the API refused, the
server could not be reached or the wait timed out; 2 a usage or parameter error, or an
unreadable job journal (nothing was sent); 130 interrupted (submitted jobs go on on the
server).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .._client import Client
from .._config import API_KEY_ENV
from .._exceptions import JobFailedError, JobTimeoutError
from .._models import Job
from .._params import VideoParams
from .._untrusted import escape_controls
from ._errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CLIError,
    explain,
    missing_extra,
    print_error,
)
from ._journal import run_batch, run_jobs, run_resume, saved_line, where_flags
from ._parser import PARAM_FLAGS, PROG, build_parser
from ._progress import make_display

__all__ = ["build_parser", "main"]

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


# -- the commands -------------------------------------------------------------------------
def _client(args: argparse.Namespace, **options: Any) -> Client:
    """The client for the command's connection options (and ``Client`` arguments)."""
    base_url = "sandbox" if args.sandbox else args.base_url
    return Client(api_key=args.api_key, base_url=base_url, **options)


def _output(path: str | None) -> Path:
    """Where to save: a file, or a directory (created when ``path`` ends with a slash)."""
    if not path:
        return Path(".")
    target = Path(path).expanduser()
    if path.endswith(("/", os.sep)):
        target.mkdir(parents=True, exist_ok=True)
    return target


def _again(command: str, job_id: str, args: argparse.Namespace) -> str:
    """The command line that picks a job up again."""
    return f"`{PROG} {command} {job_id}{where_flags(args)}`"


def _generate(args: argparse.Namespace) -> int:
    """One video: where it goes is checked before the job is submitted, and
    ``--timeout`` bounds the whole wait (a free slot, the server's 429s, the job)."""
    params = VideoParams.create(
        " ".join(args.prompt), **{name: getattr(args, name) for name in PARAM_FLAGS}
    )
    target = _output(args.output)
    with _client(args) as client:
        display = make_display(sys.stderr, client.timing, params, quiet=args.quiet)
        seen: list[Job] = []

        def on_update(job: Job) -> None:
            if not seen:
                display.submitted(job)
            else:
                display.update(job)
            if job.is_completed and not (seen and seen[-1].is_completed):
                display.downloading()
            seen.append(job)

        try:
            video = client.generate(
                params.prompt,
                **{name: getattr(params, name) for name in PARAM_FLAGS},
                path=target,
                timeout=args.timeout,
                on_update=on_update,
            )
        except JobTimeoutError as exc:
            raise CLIError(
                f"job {exc.job.id} is still {exc.job.status} after {exc.timeout:g} s; "
                f"{_goes_on(exc.job.id, args)}"
            ) from exc
        except KeyboardInterrupt:
            raise CLIError(
                _interrupted(seen[-1] if seen else None, args), EXIT_INTERRUPTED
            ) from None
        finally:
            display.close()
    assert video.path is not None
    print(saved_line(video.path, video.job), flush=True)
    return EXIT_OK


def _interrupted(job: Job | None, args: argparse.Namespace) -> str:
    if job is None:
        return "interrupted while submitting; the job may or may not have been created"
    return f"interrupted; job {job.id}: {_goes_on(job.id, args)}"


def _goes_on(job_id: str, args: argparse.Namespace) -> str:
    """Where a job left behind goes on, and the commands that pick it up again."""
    where = "in the sandbox (the next sandbox run resumes it)" if args.sandbox else "on the server"
    return (
        f"it goes on {where}: check it with {_again('get', job_id, args)}, "
        f"save it with {_again('download', job_id, args)}"
    )


def _job_dict(job: Job) -> dict[str, Any]:
    """The job as the JSON ``ecovideo get --json`` prints (unknown fields left out)."""
    fields: dict[str, Any] = {
        "id": job.id,
        "status": job.status,
        "created": job.created,
        "model": job.model,
        "progress": job.progress,
        "completed_at": job.completed_at,
        "video_url": job.video_url,
        "duration_seconds": job.duration_seconds,
        "expires_at": job.expires_at,
        "error": asdict(job.error) if job.error is not None else None,
    }
    if job.params is not None:
        fields.update({name: getattr(job.params, name) for name in ("prompt", *PARAM_FLAGS)})
    return {key: value for key, value in fields.items() if value is not None}


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


def _job_lines(job: Job) -> list[str]:
    """The job as aligned ``name  value`` lines."""
    rows = _job_dict(job)
    for name in ("created", "completed_at", "expires_at"):
        if name in rows:
            rows[name] = _when(rows[name])
    if job.error is not None:
        rows["error"] = f"{job.error.type}: {job.error.message}"
    if job.progress is not None:
        rows["progress"] = f"{job.progress:.0%}"
    width = max(len(name) for name in rows)
    return [f"{name:<{width}}  {value}" for name, value in rows.items()]


def _get(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.get(args.job_id)
    if args.json:
        print(
            escape_controls(
                json.dumps(_job_dict(job), indent=2, ensure_ascii=False), keep="\n", json=True
            )
        )
    else:
        print(escape_controls("\n".join(_job_lines(job)), keep="\n"))
    return EXIT_OK


def _download(args: argparse.Namespace) -> int:
    target = _output(args.output)
    with _client(args) as client:
        job = client.get(args.job_id)
        if job.is_failed:
            raise JobFailedError(job)
        if not job.is_completed:
            raise CLIError(
                f"job {job.id} is {job.status}, not completed yet: check it with "
                f"{_again('get', job.id, args)}"
            )
        path = client.download(job, target)
    assert isinstance(path, Path)
    print(saved_line(path, job), flush=True)
    return EXIT_OK


def _server_key(keys: list[str] | None) -> tuple[str, ...]:
    """The accepted keys: the options, else the environment, else a new one (shown once)."""
    if keys:
        return tuple(keys)
    from_env = os.environ.get(API_KEY_ENV, "").strip()
    if from_env:
        return (from_env,)
    key = "eco_" + secrets.token_urlsafe(24)
    print(
        f"{PROG}: no --api-key given; made a key for this run: {API_KEY_ENV}={key}",
        file=sys.stderr,
        flush=True,
    )
    return (key,)


def _serve(args: argparse.Namespace) -> int:
    try:
        from ..server import FaultConfig, ServerConfig, serve
    except ImportError as exc:
        raise missing_extra(exc) from exc
    import platformdirs

    fault_options = {
        name: value
        for name in (
            "error_rate",
            "drop_rate",
            "slow_rate",
            "slow_seconds",
            "burst_429_every",
            "burst_429_length",
            "post_drop_rate",
        )
        if (value := getattr(args, name)) is not None
    }
    default_dir = Path(platformdirs.user_data_dir("eco_widget", appauthor=False)) / "server"
    data_dir = args.data_dir or default_dir
    renderer = _wan_backend(args) if args.backend == "wan" else None
    if renderer is None and (args.model or args.size):
        raise CLIError("--model and --size choose the Wan model: add --backend wan", EXIT_USAGE)
    config = ServerConfig(
        api_keys=_server_key(args.api_keys),
        data_dir=data_dir.expanduser(),
        profile=args.profile or ("instant" if renderer is not None else "fast"),
        renderer=renderer,
        time_scale=args.time_scale,
        url_ttl=args.url_ttl,
        faults=FaultConfig(**fault_options),
        public_url=args.public_url,
        body_timeout=args.body_timeout,
    )
    config.data_dir.mkdir(parents=True, exist_ok=True)
    if args.host not in _LOOPBACK:
        print(
            f"{PROG}: warning: listening on {args.host}: other machines can reach this server",
            file=sys.stderr,
            flush=True,
        )
    serve(config, host=args.host, port=args.port)
    return EXIT_OK


def _wan_backend(args: argparse.Namespace) -> Any:
    """The Wan renderer, loaded before the server listens: a missing extra or missing
    weights end the command with one line (exit 1) instead of failing every job."""
    from .._local_engine import wan_renderer

    try:
        renderer = wan_renderer(args.model, args.size)
    except ImportError as exc:
        raise CLIError(str(exc)) from exc
    print(f"{PROG}: loading {renderer.model} …", file=sys.stderr, flush=True)
    from ..server import WeightsUnavailableError

    try:
        renderer.load()
    except WeightsUnavailableError as exc:
        raise CLIError(str(exc)) from exc
    return renderer


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return handler(args)
    except KeyboardInterrupt:
        print_error("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        failure = explain(exc)
        print_error(failure.message)
        return failure.code


def main(argv: list[str] | None = None) -> int:
    """Run ``ecovideo`` with ``argv`` (default: the command line); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "generate": _generate,
        "get": _get,
        "download": _download,
        "jobs": run_jobs,
        "resume": lambda args: run_resume(args, _client),
        "batch": lambda args: run_batch(args, _client),
        "serve": _serve,
    }
    return _run(handlers[args.command_name], args)


