"""The ``ecovideo`` commands built on the job journal: ``jobs``, ``resume``, ``batch``.

Text read from the journal or sent by a server is printed only through
:func:`escape_controls`; a base URL is shown without its user info."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._batch import BatchPlan
from .._client import Client
from .._jobs_table import jobs
from .._models import Job
from .._untrusted import escape_controls, without_userinfo
from ._batch import check_defaults, output_template, read_batch
from ._errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CLIError
from ._parser import PARAM_FLAGS, PROG
from ._progress import BatchLines, JobLines, is_terminal

__all__ = ["again", "run_batch", "run_jobs", "run_resume", "saved_line", "where_flags"]

#: Makes the client for a command's connection options (and Client keyword arguments).
ClientFactory = Callable[..., Client]


def where_flags(args: argparse.Namespace) -> str:
    """The connection options that reach the same server again (never the key, nor a
    ``user:password@`` written into the URL)."""
    if getattr(args, "sandbox", False):
        return " --sandbox"
    if getattr(args, "base_url", None):
        return f" --base-url {escape_controls(without_userinfo(args.base_url))}"
    return ""


def again(command: str, args: argparse.Namespace) -> str:
    """A command line, quoted for a message: ``` `ecovideo resume --sandbox` ```."""
    return f"`{PROG} {command}{where_flags(args)}`"


def goes_on_where(args: argparse.Namespace) -> str:
    """Where jobs left behind go on."""
    return "in the sandbox" if getattr(args, "sandbox", False) else "on the server"


def saved_line(path: Path, job: Job) -> str:
    """The stable result line: ``saved PATH (job ID, seed N, D s, F frames at R fps)``,
    its control characters escaped."""
    parts = [f"job {job.id}"]
    if job.seed is not None:
        parts.append(f"seed {job.seed}")
    duration = job.duration_seconds
    if duration is None and job.params is not None:
        duration = job.params.duration_seconds
    if duration is not None:
        parts.append(f"{duration:g} s")
    if job.params is not None:
        parts.append(f"{job.params.num_frames} frames at {job.params.fps} fps")
    return escape_controls(f"saved {path} ({', '.join(parts)})")


def _shown(path: Path) -> Path:
    """``path`` relative to the current folder when it is inside it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


# -- jobs ---------------------------------------------------------------------------------
def run_jobs(args: argparse.Namespace) -> int:
    """``ecovideo jobs``: the journal as a table, or one JSON object per line."""
    table = jobs(status=args.status, limit=args.limit or None)
    if not args.json:
        print(repr(table), flush=True)
        return EXIT_OK
    for record in table.to_records():
        print(escape_controls(json.dumps(record, ensure_ascii=False), json=True), flush=True)
    if not table:
        print(table.heading(), file=sys.stderr, flush=True)
    return EXIT_OK


# -- resume -------------------------------------------------------------------------------
def run_resume(args: argparse.Namespace, make_client: ClientFactory) -> int:
    """``ecovideo resume``: save the videos of the account's unfinished jobs."""
    options: dict[str, Any] = {}
    if args.output:
        options["autosave"] = Path(os.path.abspath(os.path.expanduser(args.output)))
    with make_client(args, **options) as client:
        display = None if args.quiet else JobLines(sys.stderr)
        try:
            result = client.resume(
                timeout=args.timeout, on_update=display.update if display else None
            )
        except KeyboardInterrupt:
            raise CLIError(
                f"interrupted; the jobs go on {goes_on_where(args)}: run "
                f"{again('resume', args)} again to save their videos",
                EXIT_INTERRUPTED,
            ) from None
    for video in result.videos:
        if video.path is not None:
            print(saved_line(_shown(video.path), video.job), flush=True)
    lines = [escape_controls(result.summary(), keep="\n")]
    if result.running:
        lines.append(f"run {again('resume', args)} again to save the ones still running")
    print("\n".join(lines), file=sys.stderr, flush=True)
    return EXIT_FAILED if result.errors or result.running else EXIT_OK


# -- batch --------------------------------------------------------------------------------
def run_batch(args: argparse.Namespace, make_client: ClientFactory) -> int:
    """``ecovideo batch``: a video of each line of a file, resumable."""
    defaults = {name: value for name in PARAM_FLAGS if (value := getattr(args, name)) is not None}
    check_defaults(defaults)
    lines = read_batch(args.file, args.format, defaults, sys.stdin)
    template = output_template(args.out)
    items = [line.item for line in lines]
    bar = not args.quiet and is_terminal(sys.stderr)
    with make_client(args) as client:
        watcher = None
        journal = client.journal
        if not args.quiet and not bar and journal is not None:
            key = BatchPlan(
                items, account=client.account, concurrency=args.concurrency, path_template=template
            ).key
            watcher = BatchLines(
                sys.stderr, lambda: journal.batch(key), [line.where for line in lines]
            )
        try:
            result = client.generate_many(
                items,
                concurrency=args.concurrency,
                path_template=template,
                timeout=args.timeout,
                progress=bar,
            )
        except KeyboardInterrupt:
            raise CLIError(
                f"interrupted; the batch's jobs go on {goes_on_where(args)}: run the same "
                f"{PROG} batch command again to resume it (nothing is submitted twice)",
                EXIT_INTERRUPTED,
            ) from None
        finally:
            if watcher is not None:
                watcher.close()
    for video in result:
        if video is not None and video.path is not None:
            print(saved_line(_shown(video.path), video.job), flush=True)
    if not bar:
        summary = [f"{len(result.videos)} of {len(result)} videos saved"]
        if result.errors:
            summary[0] += f"; {len(result.errors)} failed:"
            for index, error in sorted(result.errors.items()):
                summary.append(escape_controls(f"  {lines[index].where}: {error}"))
        print("\n".join(summary), file=sys.stderr, flush=True)
    if result.errors:
        print(
            f"run the same {PROG} batch command again to finish it: saved videos are kept, "
            "running jobs are picked up and failed lines are tried again",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_FAILED
    return EXIT_OK
