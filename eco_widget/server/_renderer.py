"""What turns parameters into an MP4: the renderer protocol and the sandbox renderer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .._params import VideoParams

__all__ = ["Renderer", "SandboxRenderer"]


@runtime_checkable
class Renderer(Protocol):
    """Renders one video.

    ``render`` is blocking: the server calls it in a worker thread, one render at a
    time. ``params.seed`` is always set. ``progress`` may be called with fractions in
    0..1 as the work advances. The return value is the MP4 file's bytes; an exception
    marks the job ``failed`` with a ``generation_error``.
    """

    def render(self, params: VideoParams, progress: Callable[[float], None]) -> bytes: ...


class SandboxRenderer:
    """The default renderer: a procedural video drawn from the prompt and the seed.

    Needs numpy, av and pillow (the ``sandbox`` extra); they are imported on the first
    render, not before.
    """

    def __init__(self, *, width: int = 832, height: int = 480) -> None:
        self.width = width
        self.height = height

    def __repr__(self) -> str:
        return f"SandboxRenderer(width={self.width}, height={self.height})"

    def render(self, params: VideoParams, progress: Callable[[float], None]) -> bytes:
        from ._sandbox_render import render_sandbox_video

        return render_sandbox_video(params, width=self.width, height=self.height, progress=progress)
