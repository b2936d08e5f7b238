"""The IPython magics ``%ecovideo`` and ``%%ecovideo``: ``%load_ext eco_widget``.

``%ecovideo [options] PROMPT`` shows a :class:`VideoWidget` already generating PROMPT;
``%%ecovideo [options]`` takes the cell's body as the prompt; ``%ecovideo --resume``
shows a widget following the jobs an earlier session left unfinished. Options are
checked before any widget or job exists (:mod:`._magic_args`); a bad one prints a short
usage and one line naming it and what it accepts, and the magic returns None (no
traceback, nothing billed).

Only ``eco_widget.load_ipython_extension`` imports this module (``import eco_widget``
does not); the widget, anywidget and ``IPython.display`` load on the first call.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from ._loop_wait import loop_running
from ._magic_args import (
    FLAGS,
    MAGIC,
    HelpShown,
    MagicCommand,
    MagicUsageError,
    build_parser,
    help_text,
    parse,
    split_words,
    usage,
)

if TYPE_CHECKING:
    from .._video import Video

__all__ = [
    "FLAGS",
    "MagicCommand",
    "MagicUsageError",
    "VideoMagics",
    "build_parser",
    "load_ipython_extension",
    "parse",
    "run",
    "split_words",
    "unload_ipython_extension",
    "usage",
]

_NOTHING_PENDING = (
    f"%{MAGIC} --resume: nothing to resume; no job from an earlier session is pending."
)


def _deliver(command: MagicCommand, user_ns: dict[str, Any]) -> Callable[[Video], None]:
    """An ``on_video`` callback that saves (``--out``) and binds (``--var``) the first
    finished video once."""
    delivered: list[bool] = []

    def deliver(video: Video) -> None:
        if delivered:
            return
        delivered.append(True)
        if command.var is not None:
            user_ns[command.var] = video
        if command.out is not None:
            try:
                if command.out_is_folder:
                    command.out.mkdir(parents=True, exist_ok=True)
                video.save(command.out)
            except OSError as exc:
                print(
                    f"%{MAGIC}: could not save the video to {command.out}: {exc}", file=sys.stderr
                )

    return deliver


def run(command: MagicCommand, user_ns: dict[str, Any]) -> Video | None:
    """Show a widget for ``command`` (generating when it has a prompt); the Video with
    ``--wait``, else None."""
    from IPython.display import display

    from ._widget import VideoWidget

    if command.resume:
        _resume(display)
        return None
    widget = VideoWidget(command.prompt, **command.params)
    if command.out is not None or command.var is not None:
        widget.on_video(_deliver(command, user_ns))
    if command.prompt:
        widget.generate()
    display(widget)
    # Outside a kernel (terminal IPython) no loop runs the job in the background:
    # waiting is the only way it gets made.
    if command.prompt and (command.wait or not loop_running()):
        video = widget.wait()
        return video if command.wait else None
    return None


def _resume(display: Callable[[Any], None]) -> None:
    """Show a widget following every pending job, or say there is none (and why, when
    no client can be made)."""
    from ._widget import VideoWidget

    widget = VideoWidget()
    if not widget.pending:
        problem = widget._client_problem
        if problem is not None:
            print(f"%{MAGIC} --resume: {problem}", file=sys.stderr)
        else:
            print(_NOTHING_PENDING)
        widget.close()
        return
    tasks = widget.resume()
    display(widget)
    if tasks and not loop_running():  # no loop runs them in the background: wait here
        loop = tasks[0].get_loop()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


@magics_class
class VideoMagics(Magics):
    """``%ecovideo`` and ``%%ecovideo``."""

    @line_cell_magic
    def ecovideo(self, line: str, cell: str | None = None) -> Video | None:
        prog = f"%%{MAGIC}" if cell is not None else f"%{MAGIC}"
        try:
            command = parse(line, cell)
        except HelpShown:
            return None
        except MagicUsageError as exc:
            print(f"{usage(prog)}\n{prog}: error: {exc}", file=sys.stderr)
            return None
        assert self.shell is not None  # IPython gives registered magics their shell
        return run(command, self.shell.user_ns)

    ecovideo.__doc__ = help_text()


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%ecovideo`` and ``%%ecovideo`` (``%load_ext eco_widget``)."""
    ipython.register_magics(VideoMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics (``%unload_ext eco_widget``)."""
    manager = ipython.magics_manager
    for kind in ("line", "cell"):
        magic = manager.magics[kind].get(MAGIC)
        if isinstance(getattr(magic, "__self__", None), VideoMagics):
            del manager.magics[kind][MAGIC]
    manager.registry.pop(VideoMagics.__name__, None)
