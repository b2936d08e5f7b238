"""Pages of videos under one transport: what ``VideoGallery.to_html`` writes.

A page holds the players of :func:`._show.show_videos` (MP4s embedded), laid out
as a gallery shows them — a sweep's tables with their headers, or a grid with titles —
and one transport for all of them in plain JavaScript inlined in the page
(``notebook/static/page.js``): play and pause all, one timeline, ±1 frame, loop, speed.
A cell without a video says why (its status) instead. A page of two videos compared
shows them side by side or overlaid with a split to drag ("swipe"), as the widget does.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._params import PARAMETERS
from ._show import DEFAULT_WIDTH, MAX_DEFAULT_COLUMNS, _plural, _shortened, embedded
from ._video import Video, _target, _write_atomically

__all__ = ["PAGE_NAME", "PageCell", "page_html", "value_name", "write_page"]

#: The file name a page gets when :func:`write_page` is given a folder.
PAGE_NAME = "gallery.html"
#: The script of a page's transport, inlined in every page.
_PAGE_SCRIPT = Path(__file__).resolve().parent / "notebook" / "static" / "page.js"
#: Where page.js's compare view begins: pages that compare nothing leave it out.
_COMPARE_PART = "\n/*\n * The compare view:"
#: The speeds a page's transport offers.
_SPEEDS = (0.25, 0.5, 1, 2)


@dataclass(frozen=True)
class PageCell:
    """One cell of a page: a finished video, or ``status`` (why there is none: "Failed —
    …", "Processing, 40 %", "Not started") shown in its place. ``title`` names the cell
    (under it in a grid; the player's title in a sweep's table)."""

    video: Video | None
    title: str = ""
    status: str = ""


def page_html(
    cells: Sequence[PageCell],
    *,
    axes: Sequence[Mapping[str, Any]] = (),
    more: Sequence[PageCell] = (),
    heading: str | None = None,
    width: int = DEFAULT_WIDTH,
    columns: int | None = None,
    compare: bool = False,
) -> str:
    """A standalone page (``<!DOCTYPE html>`` …) of ``cells``, with every video embedded
    and one transport for all of them.

    With ``axes`` (a gallery's ``sweep_layout["axes"]``: ``{"name", "label", "values"}``
    each), ``cells`` are a sweep's combinations, the first axis varying fastest, laid out
    as tables: the first axis along the columns, the second along the rows, one table per
    combination of further axes under a heading naming them; missing cells read "Not
    started". Headers read "Seed 2", "Guidance 5.0" (a prompt axis shows the prompt,
    shortened). Without ``axes``, ``cells`` are a grid of ``columns`` (one per cell, up
    to 4) with each title under its cell. ``more`` follow as a grid. With ``compare``,
    the first two ``cells`` are compared (``axes`` and ``more`` are not used): their
    titles, then their videos side by side or, at the press of "Swipe", overlaid with
    the second one clipped right of a split that a handle moves (a slider from 0 to 100:
    pointer drag, arrow keys); without scripts, side by side with their own controls.
    Every text is escaped; the only script is the transport's (and the compare view's),
    allowed by the page's Content-Security-Policy by its hash.
    """
    parts: list[str] = []
    if compare:
        cells = (list(cells) + [PageCell(None, "", "Not started")] * 2)[:2]
        axes, more = (), ()
        parts.append(_compare_view(cells, width))
    elif axes:
        parts.append(_sweep_tables(list(cells), list(axes), width))
        if more:
            parts.append("<h2>Other videos</h2>")
            parts.append(_page_grid(list(more), width, columns))
    else:
        parts.append(_page_grid([*cells, *more], width, columns))
    shown = [*cells, *more]
    players = sum(cell.video is not None for cell in shown)
    if heading is None:
        heading = (
            "Sweep: " + " × ".join(str(axis.get("label") or axis.get("name")) for axis in axes)
            if axes
            else "Two videos compared"
            if compare
            else _plural(len(shown), "video")
        )
    script = _page_script(compare=compare)
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    policy = (
        "default-src 'none'; media-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'"
    )
    summary = _plural(players, "video")
    if players != len(shown):
        summary += f" of {len(shown)}"
    prompts = {cell.video.prompt for cell in shown if cell.video is not None}
    if axes and all(axis.get("name") != "prompt" for axis in axes) and len(prompts) == 1:
        summary = f"{prompts.pop() or ''} · {summary}"  # a sweep of one prompt names it
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        f"<title>{html.escape(heading)}</title>\n"
        f"<style>{_PAGE_STYLE}{_COMPARE_STYLE if compare else ''}</style>\n"
        f"</head>\n<body>\n<h1>{html.escape(heading)}</h1>\n"
        f'<p class="eco-summary">{html.escape(summary)}</p>\n'
        f"{_transport() if players else ''}\n"
        + "\n".join(parts)
        + f"\n<script>{script}</script>\n</body>\n</html>\n"
    )


def write_page(path: str | os.PathLike[str], page: str, name: str = PAGE_NAME) -> Path:
    """Write ``page`` to ``path`` (UTF-8) atomically — a temporary file next to it, then
    renamed into place — and return the path written. ``path`` may be a folder (one that
    exists, or one written with a trailing slash): the page is ``name`` in it."""
    target = _target(path, name)
    data = page.encode("utf-8")
    return _write_atomically(target, lambda out: out.write(data))


_PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:16px;color:#1f2328;background:#fff}"
    "h1{font-size:1.25rem;margin:0 0 4px}h2{font-size:1.05rem;margin:20px 0 6px}"
    ".eco-summary{margin:0 0 10px;color:#57606a;font-size:.9rem}"
    ".eco-transport{position:sticky;top:0;z-index:1;display:flex;flex-wrap:wrap;gap:8px;"
    "align-items:center;padding:8px 0;background:#fff}"
    ".eco-transport[hidden]{display:none}"
    ".eco-transport button,.eco-transport select{font:inherit;padding:2px 10px}"
    ".eco-transport input[type=range]{flex:1 1 240px;min-width:160px}"
    ".eco-transport [aria-pressed=true]{font-weight:600}"
    ".eco-clock{font-variant-numeric:tabular-nums;font-size:.9rem}"
    "table.eco-table{border-collapse:collapse;margin:0 0 8px}"
    ".eco-table th{font-weight:600;font-size:.9rem;padding:4px 6px;text-align:left;"
    "vertical-align:middle}"
    ".eco-table td{padding:4px;vertical-align:top}"
    "video{display:block;height:auto;max-width:100%;background:#000}"
    ".eco-status{box-sizing:border-box;padding:8px;border:1px dashed #8c959f;"
    "font-size:.9rem;overflow-wrap:anywhere}"
    ".eco-title{font-size:.85rem;padding-top:2px;overflow-wrap:anywhere}"
    ":focus-visible{outline:2px solid #0969da;outline-offset:2px}"
)
#: A compare page's style besides: the stage is a grid of two columns of ``--eco-w``
#: (side by side), or of one where both panes lie on each other (``data-view=swipe``).
_COMPARE_STYLE = (
    ".eco-compare-views{display:flex;gap:4px;margin:0 0 8px}"
    ".eco-compare-views[hidden]{display:none}"
    ".eco-compare-views button{font:inherit;padding:2px 10px}"
    ".eco-compare-views [aria-pressed=true]{font-weight:600}"
    ".eco-compare-titles,.eco-compare-stage{display:grid;gap:12px;"
    "grid-template-columns:repeat(2,minmax(0,var(--eco-w)))}"
    ".eco-compare-titles{margin:0 0 4px}"
    ".eco-compare-stage{position:relative;width:max-content;max-width:100%;touch-action:pan-y}"
    ".eco-compare-stage[data-view=swipe]{grid-template-columns:minmax(0,var(--eco-w));"
    "cursor:ew-resize;user-select:none}"
    ".eco-compare-stage[data-view=swipe]>.eco-compare-pane{grid-area:1/1}"
    ".eco-compare-stage[data-view=swipe]>.eco-compare-pane--second:not(:has(video))"
    "{visibility:hidden}"
    ".eco-compare-pane{min-width:0}"
    ".eco-compare-handle{position:absolute;top:0;bottom:0;z-index:1;width:24px;"
    "margin-left:-12px;cursor:ew-resize;touch-action:none}"
    ".eco-compare-handle[hidden]{display:none}"
    ".eco-compare-handle::before{content:'';position:absolute;top:0;bottom:0;left:11px;"
    "width:2px;background:#fff;box-shadow:0 0 0 1px rgba(0,0,0,.45)}"
    ".eco-compare-handle::after{content:'';position:absolute;top:50%;left:2px;width:20px;"
    "height:20px;margin-top:-10px;box-sizing:border-box;background:#fff;"
    "border:2px solid #0969da;border-radius:50%}"
)


def _page_script(*, compare: bool = False) -> str:
    """page.js as a page inlines it: without its indentation, blank lines and whole-line
    comments (it has no string that spans lines); without its compare view unless
    ``compare``."""
    source = _PAGE_SCRIPT.read_text(encoding="utf-8")
    if not compare:
        source = source[: source.index(_COMPARE_PART)]
    lines, in_comment = [], False
    for line in source.splitlines():
        text = line.strip()
        if in_comment or text.startswith("/*"):
            in_comment = "*/" not in text
        elif text and not text.startswith("//"):
            lines.append(text)
    return "\n".join(lines)


def _transport() -> str:
    """The transport's controls: hidden until its script runs (without scripts the
    players keep their own controls)."""
    speeds = "".join(
        f'<option value="{speed}"{" selected" if speed == 1 else ""}>{speed}×</option>'
        for speed in _SPEEDS
    )
    return (
        '<div class="eco-transport" role="toolbar" aria-label="Playback of every video" '
        "data-eco-transport hidden>"
        '<button type="button" data-eco="play" aria-label="Play all">Play all</button>'
        '<button type="button" data-eco="back" aria-label="Back one frame" '
        'title="Back one frame">‹ 1 frame</button>'
        '<button type="button" data-eco="forward" aria-label="Forward one frame" '
        'title="Forward one frame">1 frame ›</button>'
        '<input type="range" data-eco="time" aria-label="Time" min="0" max="0" step="any" '
        'value="0">'
        '<span class="eco-clock" data-eco="clock" aria-hidden="true"></span>'
        '<button type="button" data-eco="loop" aria-pressed="true">Loop</button>'
        f'<label>Speed <select data-eco="speed">{speeds}</select></label>'
        "</div>"
    )


def _page_player(cell: PageCell, width: int) -> str:
    """A cell's player (muted, no controls once the transport runs) or its status."""
    style = f"width:{width}px;max-width:100%"
    if cell.video is None:
        return f'<div class="eco-status" style="{style}">{html.escape(cell.status)}</div>'
    source, reason = embedded(cell.video)
    if source is None:
        reason = html.escape(reason)
        return f'<div class="eco-status" style="{style}">The video cannot be read ({reason}).</div>'
    params = cell.video.job.params
    fps = f' data-fps="{params.fps}"' if params is not None else ""
    text = html.escape(cell.title)
    return (
        f'<video data-eco-video controls loop muted playsinline preload="auto" '
        f'width="{width}" style="{style}"{fps} title="{text}" aria-label="{text}">'
        f'<source src="{source}" type="video/mp4">'
        "Your browser cannot play MP4 video.</video>"
    )


def _compare_view(cells: list[PageCell], width: int) -> str:
    """Two cells compared: their titles, then their players side by side; the view's
    buttons and the split's handle are hidden until page.js runs."""
    titles = "".join(f'<div class="eco-title">{html.escape(cell.title)}</div>' for cell in cells)
    panes = "".join(
        f'<div class="eco-compare-pane eco-compare-pane--{name}">{_page_player(cell, width)}</div>'
        for name, cell in zip(("first", "second"), cells, strict=True)
    )
    return (
        '<section class="eco-compare" aria-label="Compare two videos" data-eco-compare '
        f'style="--eco-w:{width}px">'
        '<div class="eco-compare-views" role="group" aria-label="Compare view" '
        'data-eco="views" hidden>'
        '<button type="button" data-eco="side" aria-pressed="true">Side by side</button>'
        '<button type="button" data-eco="swipe" aria-pressed="false">Swipe</button></div>'
        f'<div class="eco-compare-titles">{titles}</div>'
        f'<div class="eco-compare-stage" data-eco="stage" data-view="side">{panes}'
        '<div class="eco-compare-handle" data-eco="split" role="slider" tabindex="0" '
        'aria-label="Split" aria-orientation="horizontal" aria-valuemin="0" '
        'aria-valuemax="100" aria-valuenow="50" '
        'aria-valuetext="50 % of the first video shown" hidden></div>'
        "</div></section>"
    )


def _page_grid(cells: list[PageCell], width: int, columns: int | None) -> str:
    if not cells:
        return '<p class="eco-summary">No videos.</p>'
    columns = columns or max(1, min(len(cells), MAX_DEFAULT_COLUMNS))
    rows = []
    for start in range(0, len(cells), columns):
        row = "".join(
            f"<td>{_page_player(cell, width)}"
            f'<div class="eco-title" style="max-width:{width}px">{html.escape(cell.title)}</div>'
            "</td>"
            for cell in cells[start : start + columns]
        )
        rows.append(f"<tr>{row}</tr>")
    return '<table class="eco-table eco-grid">' + "".join(rows) + "</table>"


def _sweep_tables(cells: list[PageCell], axes: list[Mapping[str, Any]], width: int) -> str:
    """A sweep's cells as tables (see :func:`page_html`)."""
    cols, rows, further = axes[0], (axes[1] if len(axes) > 1 else None), axes[2:]
    col_values = list(cols["values"])
    row_values = list(rows["values"]) if rows is not None else [None]
    per_block = len(col_values) * len(row_values)
    blocks = math.prod(len(axis["values"]) for axis in further)
    missing = PageCell(None, "", "Not started")
    caption = " by ".join(_label(axis) for axis in (rows, cols) if axis is not None)
    sections = []
    for c in range(blocks):
        rest, names = c, []
        for axis in further:
            values = list(axis["values"])
            names.append(value_name(axis, values[rest % len(values)]))
            rest //= len(values)
        heading = " · ".join(text for text, _ in names)
        corner = (
            f'<th scope="col">{html.escape(_label(rows))} ╲ {html.escape(_label(cols))}</th>'
            if rows is not None
            else ""
        )
        head = corner + "".join(_th("col", *value_name(cols, value)) for value in col_values)
        body = []
        for b, row_value in enumerate(row_values):
            tr = _th("row", *value_name(rows, row_value)) if rows is not None else ""
            for a in range(len(col_values)):
                index = a + len(col_values) * b + per_block * c
                cell = cells[index] if index < len(cells) else missing
                tr += f"<td>{_page_player(cell, width)}</td>"
            body.append(f"<tr>{tr}</tr>")
        label = f"{caption}, {heading}" if heading else caption
        sections.append(
            '<section class="eco-block">'
            + (f"<h2>{html.escape(heading)}</h2>" if heading else "")
            + f'<table class="eco-table eco-sweep" aria-label="{html.escape(label)}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></section>"
        )
    return "\n".join(sections)


def _label(axis: Mapping[str, Any]) -> str:
    return str(axis.get("label") or axis.get("name"))


def _th(scope: str, text: str, title: str | None) -> str:
    tip = f' title="{html.escape(title)}"' if title else ""
    return f'<th scope="{scope}"{tip}>{html.escape(text)}</th>'


def value_name(axis: Mapping[str, Any], value: Any) -> tuple[str, str | None]:
    """How a sweep value is named in a header, and the header's title (a prompt's whole
    text): "Seed 2", "Guidance 5.0" (a float parameter keeps Python's look), "Seed
    random" for None; a prompt is its own text, shortened."""
    if axis.get("name") == "prompt":
        return _shortened(str(value or "")), str(value or "")
    spec = PARAMETERS.get(str(axis.get("name")))
    if value is None:
        shown = "random"
    elif spec is not None and spec.kind is float and isinstance(value, int):
        shown = str(float(value))
    else:
        shown = str(value)
    return f"{_label(axis)} {shown}", None
