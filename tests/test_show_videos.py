"""``show_videos``: real videos from the local server side by side as plain HTML — players
with the MP4s embedded, escaped titles, the columns asked for — and a deterministic
``text/plain``."""

from __future__ import annotations

import base64
import dataclasses
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from IPython.core.formatters import DisplayFormatter

import eco_widget
from eco_widget import Client, InvalidParameterError, Video, VideoGrid, show_videos
from tests.conftest import FAST_POLL, KEY, OTHER_KEY

DATA_URL = "data:video/mp4;base64,"
HOSTILE = "<img src=x onerror=alert(1)>"
LONG_PROMPT = "a red balloon floating slowly over a snowy mountain range at dawn"
#: Every element the grid may contain: anything else (``img``, ``script``) is a leak.
ALLOWED_TAGS = {"table", "tr", "td", "video", "source", "div", "p"}


class Page(HTMLParser):
    """An HTML fragment's elements (in order, with attributes), the ``<td>`` count of
    each ``<tr>``, and its text."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[int] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append(0)
        elif tag == "td":
            self.rows[-1] += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag]

    def embedded(self) -> list[bytes]:
        """The bytes of every ``<source>``, which must all be MP4 data URLs."""
        found = []
        for source in self.all("source"):
            src = source["src"] or ""
            assert src.startswith(DATA_URL) and source["type"] == "video/mp4"
            found.append(base64.b64decode(src[len(DATA_URL) :], validate=True))
        return found


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> list[Video]:
    """Three videos from the real local server (saved: two in the data folder, one to the
    path given), so that each grid reads them from their files."""
    from eco_widget.server import ServerConfig, ThreadedServer

    folder = tmp_path_factory.mktemp("show")
    server = ThreadedServer(
        ServerConfig(
            api_keys=(KEY, OTHER_KEY), data_dir=folder / "server", profile="instant", seed=1
        )
    )
    server.start()
    try:
        with Client(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL) as client:
            made = [
                client.generate(LONG_PROMPT, num_frames=5, fps=8, seed=7),
                client.generate("a koi pond in the rain", num_frames=9, fps=8, seed=11),
                client.generate("a paper plane", num_frames=5, seed=3, path=folder / "p.mp4"),
            ]
    finally:
        server.stop()
    return made


def test_every_video_is_an_inline_player_with_its_mp4_embedded(videos: list[Video]):
    grid = show_videos(videos)
    assert isinstance(grid, VideoGrid) and len(grid) == 3
    page = Page(grid._repr_html_())
    players = page.all("video")
    assert len(players) == 3
    for player in players:
        assert {"controls", "loop", "muted", "playsinline"} <= player.keys()
        assert "autoplay" not in player
    assert page.embedded() == [video.data for video in videos]
    assert videos[2].path is not None and page.embedded()[2] == videos[2].path.read_bytes()


def test_default_titles_are_the_shortened_prompt_and_the_seed_in_order(videos: list[Video]):
    page = Page(show_videos(videos)._repr_html_())
    titles = [player["title"] for player in page.all("video")]
    assert titles == [
        "a red balloon floating slowly over a sn… · seed 7",
        "a koi pond in the rain · seed 11",
        "a paper plane · seed 3",
    ]
    assert [text for text in page.text if "seed" in text] == titles  # under the players
    assert len(LONG_PROMPT) > 40 and LONG_PROMPT not in "".join(page.text)


def test_titles_are_shown_in_order(videos: list[Video]):
    names = ["first", "second", "third"]
    page = Page(show_videos(videos, titles=names)._repr_html_())
    assert [player["title"] for player in page.all("video")] == names
    assert [text for text in page.text if text in names] == names


def test_a_hostile_title_is_only_text(videos: list[Video]):
    titles = [HOSTILE, '"><script>alert(2)</script>', "a & b"]
    raw = show_videos(videos, titles=titles)._repr_html_()
    page = Page(raw)
    assert {tag for tag, _ in page.elements} <= ALLOWED_TAGS
    assert not page.all("img") and not page.all("script")
    for _, attrs in page.elements:
        assert not [name for name in attrs if name.lower().startswith("on")]
    assert "<img" not in raw and "<script" not in raw.lower()
    assert html_escaped(HOSTILE) in raw
    assert [player["title"] for player in page.all("video")] == titles
    assert [text for text in page.text if text in titles] == titles


def html_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_a_prompt_with_markup_in_its_default_title_is_escaped(videos: list[Video]):
    job = videos[1].job
    assert job.params is not None
    params = dataclasses.replace(job.params, prompt=HOSTILE)
    hostile = Video(dataclasses.replace(job, params=params), data=videos[1].data)
    raw = show_videos([hostile])._repr_html_()
    page = Page(raw)
    assert not page.all("img") and "<img" not in raw
    assert page.all("video")[0]["title"] == f"{HOSTILE} · seed 11"
    assert hostile.path is None and page.embedded() == [videos[1].data]  # held in memory


@pytest.mark.parametrize(
    ("columns", "rows"), [(None, [3]), (1, [1, 1, 1]), (2, [2, 1]), (3, [3]), (5, [3])]
)
def test_columns_set_the_cells_per_row(videos: list[Video], columns: int | None, rows: list[int]):
    grid = show_videos(videos, columns=columns)
    assert Page(grid._repr_html_()).rows == rows


def test_default_columns_stop_at_four(videos: list[Video]):
    grid = show_videos(videos * 3)
    assert grid.columns == 4
    assert Page(grid._repr_html_()).rows == [4, 4, 1]


def test_width_sets_each_player_and_cell(videos: list[Video]):
    page = Page(show_videos(videos, width=200)._repr_html_())
    assert [player["width"] for player in page.all("video")] == ["200"] * 3
    assert [cell["width"] for cell in page.all("td")] == ["200"] * 3
    assert all("width:200px" in (player["style"] or "") for player in page.all("video"))
    default = Page(show_videos(videos)._repr_html_())
    assert [player["width"] for player in default.all("video")] == ["320"] * 3


def test_a_dict_uses_its_keys_as_titles(videos: list[Video]):
    grid = show_videos({"dawn": videos[0], "<b>rain</b>": videos[1]})
    page = Page(grid._repr_html_())
    assert [player["title"] for player in page.all("video")] == ["dawn", "<b>rain</b>"]
    assert not page.all("b")
    assert page.embedded() == [videos[0].data, videos[1].data]
    assert grid.titles == ("dawn", "<b>rain</b>")


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"columns": 0}, "columns"),
        ({"columns": -1}, "columns"),
        ({"columns": 2.0}, "columns"),
        ({"columns": True}, "columns"),
        ({"width": 0}, "width"),
        ({"width": "320px"}, "width"),
        ({"width": 320.5}, "width"),
        ({"titles": ["one", "two"]}, "titles"),
        ({"titles": ["one", "two", "three", "four"]}, "titles"),
        ({"titles": "abc"}, "titles"),
        ({"titles": ["one", 2, "three"]}, "titles"),
    ],
)
def test_bad_arguments_name_the_parameter(videos: list[Video], kwargs: dict, param: str):
    with pytest.raises(InvalidParameterError) as caught:
        show_videos(videos, **kwargs)
    assert caught.value.param == param
    assert str(caught.value).startswith(f"{param} must be ")


@pytest.mark.parametrize(
    ("value", "param"),
    [
        (lambda v: [v[0], None], "videos[1]"),
        (lambda v: [v[0], v[1].data], "videos[1]"),
        (lambda v: ["balloon.mp4"], "videos[0]"),
        (lambda v: "balloon.mp4", "videos"),
        (lambda v: v[0].data, "videos"),
        (lambda v: v[0], "videos"),
        (lambda v: {"dawn": v[0], "dusk": "dusk.mp4"}, "videos['dusk']"),
        (lambda v: {1: v[0]}, "videos"),
    ],
)
def test_only_videos_are_taken(videos: list[Video], value, param: str):
    with pytest.raises(InvalidParameterError) as caught:
        show_videos(value(videos))
    assert caught.value.param == param
    assert str(caught.value).startswith(f"{param} must be a")


def test_titles_with_a_dict_are_refused(videos: list[Video]):
    with pytest.raises(InvalidParameterError, match="keys are the titles") as caught:
        show_videos({"dawn": videos[0]}, titles=["dusk"])
    assert caught.value.param == "titles"


def test_the_text_fallback_is_deterministic(videos: list[Video]):
    grid = show_videos(videos, columns=2)
    assert repr(grid) == "VideoGrid(3 videos, 2 columns, width=320)"
    assert repr(show_videos(list(videos), columns=2)) == repr(grid)
    assert repr(show_videos(videos[:1], width=100)) == "VideoGrid(1 video, 1 column, width=100)"
    bundle, _ = DisplayFormatter().format(grid)
    assert bundle["text/plain"] == repr(grid)
    assert bundle["text/html"] == grid._repr_html_()


def test_a_saved_video_is_read_when_shown_and_a_missing_file_is_said(
    videos: list[Video], tmp_path: Path
):
    later = tmp_path / "later.mp4"
    grid = show_videos([Video(videos[1].job, path=later), videos[0]])
    later.write_bytes(videos[1].data)  # written after the grid was made
    assert Page(grid._repr_html_()).embedded() == [videos[1].data, videos[0].data]
    later.unlink()
    page = Page(grid._repr_html_())
    assert page.embedded() == [videos[0].data]  # the other video still shows
    assert any("cannot be read" in text for text in page.text)


def test_the_html_is_the_videos_plus_a_third(videos: list[Video]):
    raw = show_videos(videos)._repr_html_()
    total = sum(len(video.data) for video in videos)
    assert len(raw) < total * 4 / 3 + 1000 * len(videos)


def test_a_standalone_page_is_written(videos: list[Video], tmp_path: Path):
    grid = show_videos(videos, titles=[HOSTILE, "b", "c"])
    page = grid.to_html()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert '<meta charset="utf-8">' in page and "<img" not in page
    assert grid._repr_html_() in page
    target = grid.save(tmp_path / "grid.html")
    assert target == tmp_path / "grid.html"
    assert target.read_text(encoding="utf-8") == page
    assert Page(page).embedded() == [video.data for video in videos]


def test_an_empty_list_is_an_empty_grid():
    grid = show_videos([])
    assert repr(grid) == "VideoGrid(0 videos, 1 column, width=320)"
    page = Page(grid._repr_html_())
    assert not page.all("video") and page.text == ["No videos."]


def test_it_is_exported_and_loaded_only_when_used():
    assert {"show_videos", "VideoGrid"} <= set(eco_widget.__all__) & set(dir(eco_widget))
    code = (
        "import sys, eco_widget\n"
        "print('eco_widget._show' in sys.modules)\n"
        "print(eco_widget.show_videos.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "eco_widget._show"]
