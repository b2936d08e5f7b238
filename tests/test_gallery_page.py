"""``VideoGallery.to_html``: a gallery of real videos from the local server written as one
standalone page — a sweep's tables with their headers, every video embedded byte for
byte, escaped prompts, a failed cell's status, the transport's script allowed by its
hash and nothing else, written atomically, and about 4/3 of the videos' size; and a
comparison of two videos as a page that shows them side by side, or swiped with its
script."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from eco_widget import AsyncClient, VideoGallery
from eco_widget._show import default_title
from tests.conftest import FAST_POLL, KEY
from tests.waiting import DEADLINE, within

pytestmark = pytest.mark.anyio

DATA_URL = "data:video/mp4;base64,"
HOSTILE = "<img src=x onerror=alert(1)>"
#: Every element a page may contain: anything else (``img``, ``iframe``) is a leak.
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "div", "button",
    "input", "span", "label", "select", "option", "section", "table", "thead", "tbody",
    "tr", "th", "td", "video", "source", "script",
}  # fmt: skip
#: A page's size may exceed 4/3 of its videos' (base64) by this factor and a fixed part
#: (its markup, style and script).
SIZE_FACTOR = 1.37
SIZE_FIXED = 10_240


class Page(HTMLParser):
    """A page's elements in order (with attributes), its tables as rows of cells (each a
    ``("th", text)`` or ``("td", [video bytes…], text)``), every video's bytes
    (``sources``), its scripts and its text."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[list[tuple]] = []
        self.scripts: list[str] = []
        self.sources: list[bytes] = []
        self.text: list[str] = []
        self._cell: list | None = None
        self._in: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.elements.append((tag, found))
        if tag == "tr":
            self.rows.append([])
        elif tag in ("th", "td"):
            self._cell = [tag, [], ""]
        elif tag == "source":
            src = found.get("src") or ""
            assert src.startswith(DATA_URL), src[:40]
            self.sources.append(base64.b64decode(src[len(DATA_URL) :], validate=True))
            if self._cell is not None:
                self._cell[1].append(self.sources[-1])
        elif tag in ("script", "style", "title", "video"):
            self._in = tag
            if tag == "script":
                self.scripts.append("")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._cell is not None:
            kind, videos, text = self._cell
            self.rows[-1].append((kind, text.strip()) if kind == "th" else (kind, videos, text))
            self._cell = None
        elif tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts[-1] += data
            return
        if self._in == "video":  # a player's fallback text
            return
        if self._cell is not None:
            self._cell[2] += data
        if data.strip() and self._in is None:
            self.text.append(data.strip())

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag]

    def videos(self) -> list[bytes]:
        return [data for row in self.rows for cell in row if cell[0] == "td" for data in cell[1]]


def gallery(server, **defaults) -> VideoGallery:
    client = AsyncClient(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL)
    return VideoGallery(client=client, **defaults)


def check_safe(page: Page, text: str) -> None:
    """Only known elements, no event handler attribute, one script — the transport's,
    whose hash is the only one the page's policy allows — and no raw hostile text."""
    assert {tag for tag, _ in page.elements} <= ALLOWED_TAGS
    handlers = [
        (tag, name) for tag, attrs in page.elements for name in attrs if name.startswith("on")
    ]
    assert handlers == []
    assert len(page.scripts) == 1
    (policy,) = [
        attrs["content"]
        for attrs in page.all("meta")
        if attrs.get("http-equiv") == "Content-Security-Policy"
    ]
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode()).digest()).decode()
    assert re.findall(r"script-src ([^;]+)", policy) == [f"'sha256-{digest}'"]
    assert "default-src 'none'" in policy
    assert HOSTILE not in text


@pytest.fixture(autouse=True)
def _data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))


async def test_a_two_by_two_sweep_is_one_page_of_tables_with_every_video(make_server, tmp_path):
    server = make_server(max_active_per_key=5)
    g = gallery(server, num_frames=2)
    g.sweep("a koi pond", seed=[1, 2], guidance_scale=[3.0, 5.0])
    result = await within(g.result(), 60, "the sweep")
    assert result.ok

    written = g.to_html(tmp_path / "out" / "sweep.html")

    assert written == tmp_path / "out" / "sweep.html" and isinstance(written, Path)
    assert sorted(p.name for p in written.parent.iterdir()) == ["sweep.html"]  # no temp file
    text = written.read_text(encoding="utf-8")
    page = Page(text)
    header, *body = page.rows
    assert header == [("th", "Guidance ╲ Seed"), ("th", "Seed 1"), ("th", "Seed 2")]
    assert [[cell[1] for cell in row if cell[0] == "th"] for row in body] == [
        ["Guidance 3.0"],
        ["Guidance 5.0"],
    ]
    cells = [[cell[1] for cell in row if cell[0] == "td"] for row in body]
    assert cells == [
        [
            [result.by(seed=1, guidance_scale=3.0).data],
            [result.by(seed=2, guidance_scale=3.0).data],
        ],
        [
            [result.by(seed=1, guidance_scale=5.0).data],
            [result.by(seed=2, guidance_scale=5.0).data],
        ],
    ]
    assert "a koi pond · 4 videos" in page.text
    players = page.all("video")
    assert len(players) == 4
    assert all("muted" in v and v.get("data-fps") == "16" for v in players)
    assert [v["title"] for v in players] == [default_title(v) for v in result]
    transport = [a for a in page.all("input") if a.get("type") == "range"]
    assert [a.get("aria-label") for a in transport] == ["Time"]
    labels = [a.get("aria-label") for a in page.all("button")]
    assert labels == ["Play all", "Back one frame", "Forward one frame", None]  # Loop: its text
    assert [a.get("value") for a in page.all("option")] == ["0.25", "0.5", "1", "2"]
    check_safe(page, text)

    video_bytes = sum(len(v.data) for v in result)
    assert written.stat().st_size <= SIZE_FACTOR * video_bytes + SIZE_FIXED

    # A folder gets gallery.html; writing again replaces the page whole.
    again = g.to_html(tmp_path / "out")
    assert again == tmp_path / "out" / "gallery.html"
    assert again.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in written.parent.iterdir()) == ["gallery.html", "sweep.html"]


async def test_prompts_stay_text_and_a_failed_cell_shows_its_status(make_server, tmp_path):
    class Picky:
        def __init__(self):
            from eco_widget.server._sandbox_render import render_sandbox_video

            self.render_video = render_sandbox_video

        def render(self, params, progress):
            if "broken" in params.prompt:
                raise RuntimeError(f"cannot draw {HOSTILE}")
            return self.render_video(params)

    server = make_server(renderer=Picky())
    g = gallery(server, num_frames=2)
    prompts = ["a koi pond", f"{HOSTILE} a pier", "a broken bridge"]
    result = await within(g.sweep(prompts).result(), DEADLINE, "the prompt sweep")
    assert [v is not None for v in result] == [True, True, False]

    text = g.to_html(tmp_path).read_text(encoding="utf-8")
    page = Page(text)

    header, row = page.rows
    assert header == [("th", "a koi pond"), ("th", f"{HOSTILE} a pier"), ("th", "a broken bridge")]
    assert [cell[1] for cell in row] == [[result[0].data], [result[1].data], []]
    status = row[2][2]
    assert status.startswith("Failed — ") and f"cannot draw {HOSTILE}" in status
    assert [v["title"] for v in page.all("video")] == [default_title(v) for v in result[:2]]
    assert "2 videos of 3" in page.text
    check_safe(page, text)


async def test_a_gallery_without_a_sweep_is_a_grid_with_titles(make_server, tmp_path):
    server = make_server(max_active_per_key=5)
    g = gallery(server, num_frames=2)
    result = await within(g.generate_many(["a red balloon", f"{HOSTILE}"]).result(), 60, "two")

    text = g.to_html(str(tmp_path) + "/pages/").read_text(encoding="utf-8")
    page = Page(text)

    assert (tmp_path / "pages" / "gallery.html").is_file()
    (row,) = page.rows
    assert [(cell[1], cell[2]) for cell in row] == [
        ([result[0].data], default_title(result[0])),
        ([result[1].data], default_title(result[1])),
    ]
    assert page.all("th") == []
    check_safe(page, text)


async def test_a_comparison_is_a_page_of_both_videos_side_by_side_with_a_swipe_view(
    make_server, tmp_path
):
    server = make_server(max_active_per_key=5)
    g = gallery(server, num_frames=2)
    result = await within(g.sweep(["a koi pond", f"{HOSTILE} a pier"]).result(), 60, "two")
    c = gallery(server)
    c.compare(result[0], result[1])
    await within(c.result(), 60, "the comparison")

    text = c.to_html(tmp_path / "compare.html").read_text(encoding="utf-8")
    page = Page(text)

    assert page.sources == [result[0].data, result[1].data]
    assert page.all("table") == []
    players = page.all("video")
    # Without scripts: both players, each with its own controls, side by side.
    assert [("controls" in v, "muted" in v, v["title"]) for v in players] == [
        (True, True, default_title(result[0])),
        (True, True, default_title(result[1])),
    ]
    panes = [a["class"] for a in page.all("div") if "eco-compare-pane" in (a.get("class") or "")]
    assert panes == [
        "eco-compare-pane eco-compare-pane--first",
        "eco-compare-pane eco-compare-pane--second",
    ]
    (stage,) = [a for a in page.all("div") if a.get("data-eco") == "stage"]
    assert stage["data-view"] == "side"
    assert default_title(result[0]) in page.text and default_title(result[1]) in page.text
    # The view's buttons and the split's handle, hidden until the script runs.
    (views,) = [a for a in page.all("div") if a.get("role") == "group"]
    assert views.get("aria-label") == "Compare view" and "hidden" in views
    buttons = [(a.get("data-eco"), a.get("aria-pressed")) for a in page.all("button")]
    assert buttons == [
        ("play", None), ("back", None), ("forward", None), ("loop", "true"),
        ("side", "true"), ("swipe", "false"),
    ]  # fmt: skip
    assert "Side by side" in page.text and "Swipe" in page.text
    (handle,) = [a for a in page.all("div") if a.get("role") == "slider"]
    assert {name: handle.get(name) for name in (
        "aria-label", "aria-valuemin", "aria-valuemax", "aria-valuenow", "tabindex"
    )} == {
        "aria-label": "Split", "aria-valuemin": "0", "aria-valuemax": "100",
        "aria-valuenow": "50", "tabindex": "0",
    }  # fmt: skip
    assert "hidden" in handle
    # The one transport for both, and the compare view in the one script.
    assert [a.get("aria-label") for a in page.all("input")] == ["Time"]
    assert "inset(0 0 0 " in page.scripts[0] and "[data-eco-compare]" in page.scripts[0]
    check_safe(page, text)

    # A sweep's page leaves the compare view out of its script.
    sweep = Page(g.to_html(tmp_path / "sweep.html").read_text(encoding="utf-8"))
    assert "[data-eco-transport]" in sweep.scripts[0]
    assert "[data-eco-compare]" not in sweep.scripts[0]
