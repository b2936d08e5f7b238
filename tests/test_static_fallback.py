"""What a front end without widget support shows: a ``Video`` is an inline, playable
``<video controls>`` with its MP4 embedded; a ``VideoWidget`` offers only its
deterministic ``text/plain`` beside the widget view, and never the video's bytes."""

from __future__ import annotations

import base64
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import av
import pytest
from IPython.core.formatters import DisplayFormatter

from eco_widget import AsyncClient, Client, Video, VideoWidget

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
DATA_URL = "data:video/mp4;base64,"
PROMPT = 'a <b>red</b> balloon & a "kite" <script>alert(1)</script>'


class Page(HTMLParser):
    """The elements of an HTML fragment, with their attributes, and the text inside
    each ``figcaption``."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.captions: list[str] = []
        self._in_caption = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_caption = tag == "figcaption"
        if self._in_caption:
            self.captions.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self.captions[-1] += data

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Video:
    """A sandbox video saved to a file: its ``data`` is read from there."""
    folder = tmp_path_factory.mktemp("videos")
    with Client(base_url="sandbox") as client:
        return client.generate(PROMPT, num_frames=9, fps=6, seed=7, path=folder)


@pytest.fixture(autouse=True)
def _data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))


def embedded(html: str) -> bytes:
    sources = Page(html).all("source")
    assert len(sources) == 1
    src = sources[0]["src"] or ""
    assert src.startswith(DATA_URL)
    return base64.b64decode(src[len(DATA_URL) :], validate=True)


def test_the_html_is_a_video_player_with_the_file_embedded(saved: Video):
    assert saved.path is not None and saved.path.is_file()
    page = Page(saved._repr_html_())
    [video] = page.all("video")
    assert "controls" in video
    [source] = page.all("source")
    assert source["type"] == "video/mp4"
    assert embedded(saved._repr_html_()) == saved.path.read_bytes()


def test_the_embedded_video_plays(saved: Video):
    with av.open(io.BytesIO(embedded(saved._repr_html_()))) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(container.decode(stream))
    assert len(frames) == 9
    assert (frames[0].width, frames[0].height) == (832, 480)


def test_the_prompt_is_escaped_in_the_caption_and_the_title(saved: Video):
    html = saved._repr_html_()
    assert "<script>" not in html and "<b>" not in html
    caption = f"{PROMPT} · seed 7 · 1.5 s · {saved.job.id}"
    page = Page(html)
    assert page.captions == [caption]
    [video] = page.all("video")
    assert video["title"] == caption
    assert [tag for tag, _ in page.elements] == ["figure", "video", "source", "figcaption"]


def test_a_video_held_as_bytes_embeds_the_same_bytes(saved: Video):
    in_memory = Video(saved.job, data=saved.data)
    assert embedded(in_memory._repr_html_()) == saved.data


def test_a_notebook_gets_html_and_a_plain_text_repr(saved: Video):
    data, metadata = DisplayFormatter().format(saved)
    assert set(data) == {"text/plain", "text/html"}
    assert data["text/plain"] == repr(saved)
    assert data["text/plain"].startswith(f"Video(job_id={saved.job.id!r}, seed=7, ")
    assert embedded(data["text/html"]) == saved.data
    assert metadata == {}


def test_the_widget_offers_a_deterministic_text_beside_its_view():
    w = VideoWidget(prompt="a koi pond in the rain, seen from above, at dusk")
    data, metadata = w._repr_mimebundle_()
    assert set(data) == {"text/plain", WIDGET_MIME}
    assert data["text/plain"] == (
        "VideoWidget(prompt='a koi pond in the rain, seen from above…', runs=0, videos=0, "
        "status='idle')"
    )
    assert data[WIDGET_MIME]["model_id"] == w.model_id
    assert metadata == {}
    formatted, _ = DisplayFormatter().format(w)
    assert formatted["text/plain"] == data["text/plain"]


def test_a_finished_widget_keeps_its_video_out_of_the_bundle_and_its_video_plays():
    client = AsyncClient(base_url="sandbox")
    w = VideoWidget(prompt="a paper boat", num_frames=5, fps=5, seed=3, client=client)
    w.generate()
    video = w.wait(timeout=30)
    data, _ = w._repr_mimebundle_()
    assert (
        data["text/plain"]
        == "VideoWidget(prompt='a paper boat', runs=1, videos=1, status='completed')"
    )
    assert len(json.dumps(data)) < 500
    assert video.path is not None
    assert embedded(w.video._repr_html_()) == video.path.read_bytes()
