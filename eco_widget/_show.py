"""``show_videos``: videos side by side as plain HTML, for viewers without widgets.

A :class:`VideoGrid` renders as a table of ``<video>`` players whose MP4s are embedded as
``data:`` URLs, with a title under each: no script, no stylesheet, no request. So it
plays wherever a notebook's HTML output is shown — JupyterLab, VS Code, nbviewer,
GitHub and exported HTML — after the kernel is gone. The layout is a ``<table>`` (with
``width`` attributes as well as inline CSS), so the columns hold even where a viewer
strips styles.

"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ._exceptions import InvalidParameterError
from ._video import Video

__all__ = [
    "DEFAULT_WIDTH",
    "MAX_DEFAULT_COLUMNS",
    "VideoGrid",
    "default_title",
    "embedded",
    "show_videos",
    "title_of",
]

#: Width of each player in CSS pixels, unless ``width`` says otherwise.
DEFAULT_WIDTH = 320
#: Columns when ``columns`` is not given: one per video, up to this many.
MAX_DEFAULT_COLUMNS = 4
#: Characters of a prompt kept in a default title (and in a sweep's header).
_TITLE_PROMPT_CHARS = 40


class VideoGrid:
    """Videos in a grid of plain-HTML players, with a title under each.

    Made by :func:`show_videos`. In a notebook it shows through ``_repr_html_``; its
    ``repr`` (the ``text/plain`` fallback) is ``VideoGrid(3 videos, 2 columns,
    width=320)``. :meth:`to_html` gives a standalone HTML page and :meth:`save` writes it.

    ``videos`` and ``titles`` are tuples, fixed when the grid is made. A video's bytes
    are read when the grid is rendered (from ``video.path`` for a saved video), not
    kept by the grid.
    """

    def __init__(self, videos: Sequence[Video], titles: Sequence[str], *, columns: int, width: int):
        self.videos = tuple(videos)
        self.titles = tuple(titles)
        self.columns = columns
        self.width = width

    def __len__(self) -> int:
        return len(self.videos)

    def __repr__(self) -> str:
        videos = _plural(len(self.videos), "video")
        columns = _plural(self.columns, "column")
        return f"VideoGrid({videos}, {columns}, width={self.width})"

    def _repr_html_(self) -> str:
        return self.to_html(full_page=False)

    def to_html(self, *, full_page: bool = True) -> str:
        """The grid as HTML: a complete page (``<!DOCTYPE html>`` …), or only the
        ``<table>`` with ``full_page=False`` (what a notebook shows)."""
        table = self._table()
        if not full_page:
            return table
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(_plural(len(self.videos), 'video'))}</title>\n"
            f"</head>\n<body>\n{table}\n</body>\n</html>\n"
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_html`'s page to ``path`` (UTF-8) and return the path. The page
        holds the videos themselves, so it plays anywhere, offline, on its own."""
        target = Path(path).expanduser()
        target.write_text(self.to_html(), encoding="utf-8")
        return target

    # -- rendering --------------------------------------------------------------------
    def _table(self) -> str:
        if not self.videos:
            return '<p style="font-size:smaller">No videos.</p>'
        pairs = zip(self.videos, self.titles, strict=True)
        cells = [self._cell(video, title) for video, title in pairs]
        rows = []
        for start in range(0, len(cells), self.columns):
            row = "".join(cells[start : start + self.columns])
            rows.append(f'<tr style="background:transparent">{row}</tr>')
        return (
            '<table class="eco-video-grid" style="border-collapse:collapse;border:none;'
            'margin:0;table-layout:auto">' + "".join(rows) + "</table>"
        )

    def _cell(self, video: Video, title: str) -> str:
        text = html.escape(title)
        width = self.width
        source, reason = embedded(video)
        if source is None:
            player = (
                f'<div style="width:{width}px;max-width:100%;font-size:smaller">'
                f"The video cannot be read ({html.escape(reason)}).</div>"
            )
        else:
            player = (
                f'<video controls loop muted playsinline width="{width}" '
                f'style="width:{width}px;max-width:100%;height:auto;display:block" '
                f'title="{text}">'
                f'<source src="{source}" type="video/mp4">'
                "Your viewer cannot play MP4 video.</video>"
            )
        return (
            f'<td width="{width}" style="vertical-align:top;text-align:left;padding:4px;'
            f'border:none;background:transparent">{player}'
            f'<div style="font-size:smaller;padding-top:2px;max-width:{width}px;'
            f'overflow-wrap:anywhere">{text}</div></td>'
        )


def show_videos(
    videos: Iterable[Video] | Mapping[str, Video],
    *,
    columns: int | None = None,
    width: int | None = None,
    titles: Sequence[str] | None = None,
) -> VideoGrid:
    """Show videos side by side as plain HTML: a :class:`VideoGrid`.

    >>> show_videos([v1, v2, v3])                          # doctest: +SKIP
    >>> show_videos({"dawn": v1, "dusk": v2}, columns=1, width=480)  # doctest: +SKIP

    ``videos`` are :class:`Video` objects — a list (a :class:`BatchResult` too, once
    its failed items, ``None``, are left out) or a ``{title: video}`` dict. Raw bytes
    are not taken: a ``Video`` knows its prompt and seed, which make the default titles
    (``a red balloon floating over a mountai… · seed 7``). ``titles`` gives one title
    per video of a list instead. ``columns`` is the videos per row (default: one per
    video, up to 4), ``width`` each player's width in CSS pixels (default 320).

    Every video's MP4 is embedded in the output, so the notebook grows by about 4/3 of
    the videos' size. Titles are escaped: any text is shown as text.

    Raises :class:`InvalidParameterError` (a ``ValueError``) naming the parameter.
    """
    if isinstance(videos, Mapping):
        if titles is not None:
            raise InvalidParameterError(
                "titles", titles, "None when videos is a dict (its keys are the titles)"
            )
        items = list(videos.items())
        for key, _ in items:
            if not isinstance(key, str):
                raise InvalidParameterError("videos", key, "a dict with str keys (the titles)")
        chosen = [_check_video(f"videos[{key!r}]", video) for key, video in items]
        names = [key for key, _ in items]
    else:
        if isinstance(videos, (str, bytes, bytearray, memoryview)) or not isinstance(
            videos, Iterable
        ):
            raise InvalidParameterError(
                "videos", videos, "a list of Video objects or a {title: Video} dict"
            )
        chosen = [_check_video(f"videos[{i}]", video) for i, video in enumerate(videos)]
        if titles is None:
            names = [default_title(video) for video in chosen]
        else:
            names = _check_titles(titles, len(chosen))
    if columns is None:
        columns = max(1, min(len(chosen), MAX_DEFAULT_COLUMNS))
    elif isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise InvalidParameterError("columns", columns, "an int >= 1")
    if width is None:
        width = DEFAULT_WIDTH
    elif isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise InvalidParameterError("width", width, "a positive int (CSS pixels)")
    return VideoGrid(chosen, names, columns=columns, width=width)


def default_title(video: Video) -> str:
    """The prompt, cut to about 40 characters, and the seed: ``a red balloon · seed 7``;
    the job id when neither is known."""
    return title_of(video.prompt, video.seed) or str(video.job.id)


def title_of(prompt: str | None, seed: int | None) -> str:
    """A default title from a prompt and a seed (either may be missing): ``a red balloon
    · seed 7``, or ``""`` when neither is known."""
    parts = []
    shown = _shortened(prompt)
    if shown:
        parts.append(shown)
    if seed is not None:
        parts.append(f"seed {seed}")
    return " · ".join(parts)


def _shortened(prompt: str | None) -> str:
    """A prompt on one line, cut to about 40 characters with "…"."""
    text = " ".join((prompt or "").split())
    if len(text) > _TITLE_PROMPT_CHARS:
        text = text[: _TITLE_PROMPT_CHARS - 1].rstrip() + "…"
    return text


def _check_video(param: str, value: object) -> Video:
    if not isinstance(value, Video):
        accepted = "a Video (failed items of a batch, None, must be left out)"
        if isinstance(value, (bytes, bytearray, memoryview)):
            accepted = "a Video, not bytes (raw MP4 bytes have no prompt or seed)"
        raise InvalidParameterError(param, value, accepted)
    return value


def _check_titles(titles: object, count: int) -> list[str]:
    accepted = f"a list of {count} str, one per video"
    if isinstance(titles, (str, bytes)) or not isinstance(titles, Iterable):
        raise InvalidParameterError("titles", titles, accepted)
    names = list(titles)
    if len(names) != count or not all(isinstance(name, str) for name in names):
        raise InvalidParameterError("titles", titles, accepted)
    return names


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def embedded(video: Video) -> tuple[str | None, str]:
    """``video``'s MP4 as a ``data:`` URL, or ``None`` and why it cannot be read (a
    saved video whose file is gone): each player says so in its cell, the others show."""
    try:
        data = video.data
    except OSError as error:
        return None, f"{type(error).__name__}: {error.strerror or error}"
    return "data:video/mp4;base64," + base64.b64encode(data).decode("ascii"), ""
