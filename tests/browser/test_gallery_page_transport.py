"""The page ``VideoGallery.to_html`` writes, opened in Chromium from its file once the
sandbox server and the client are closed: its transport plays, pauses, scrubs, steps,
loops and changes the speed of all four videos of a 2×2 sweep together, from the
keyboard too, and the page asks for nothing over the network. The page of a comparison of
two of those videos switches between side by side and swipe, whose split follows a
pointer drag and the arrow keys, and plays both under the same transport.

Chromium runs with its default autoplay policy here (the other browser tests allow
autoplay outright); the page's videos are muted, as that policy asks of videos that
play together.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from eco_widget import AsyncClient, VideoGallery
from tests.browser.jupyter import CHROMIUM, CHROMIUM_ARGS, chromium_missing_message
from tests.conftest import FAST_POLL, KEY

pytestmark = pytest.mark.slow

FPS = 8
FRAMES = 17  # 2.125 s: long enough to scrub
FRAME = 1 / FPS
VIDEOS = "[...document.querySelectorAll('video')]"
SETTLED = f"() => {VIDEOS}.every((v) => !v.seeking)"


@pytest.fixture(scope="module")
def page_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 2×2 sweep's page and the page of a comparison of two of its videos, written by
    galleries whose client and server are then closed."""
    from eco_widget.server import ServerConfig, ThreadedServer

    folder = tmp_path_factory.mktemp("gallery-page")
    server = ThreadedServer(
        ServerConfig(
            api_keys=(KEY,),
            data_dir=folder / "server",
            profile="instant",
            seed=1,
            max_active_per_key=5,
        )
    )
    server.start()

    async def make() -> tuple[Path, Path]:
        client = AsyncClient(api_key=KEY, base_url=server.url, poll_policy=FAST_POLL)
        gallery = VideoGallery(client=client, num_frames=FRAMES, fps=FPS)
        compared = VideoGallery(client=client)
        try:
            gallery.sweep("a koi pond", seed=[1, 2], guidance_scale=[3.0, 5.0])
            result = await asyncio.wait_for(gallery.result(), 60)
            assert result.ok
            compared.compare(result[0], result[1])
            assert (await asyncio.wait_for(compared.result(), 60)).ok
            return gallery.to_html(folder / "sweep.html"), compared.to_html(folder / "compare.html")
        finally:
            gallery.close()
            compared.close()
            await client.aclose()

    try:
        return asyncio.run(make())
    finally:
        server.stop()


@pytest.fixture(scope="module")
def page_file(page_files: tuple[Path, Path]) -> Path:
    return page_files[0]


@pytest.fixture(scope="module")
def compare_file(page_files: tuple[Path, Path]) -> Path:
    return page_files[1]


@pytest.fixture(scope="module")
def chromium(page_files: tuple[Path, Path]) -> Iterator[Any]:
    """Debian's Chromium with its default autoplay policy, started once the page is
    written (Playwright's sync API marks an event loop as running in this thread)."""
    missing = chromium_missing_message()
    if missing:
        pytest.fail(missing, pytrace=False)
    from playwright.sync_api import sync_playwright

    args = [arg for arg in CHROMIUM_ARGS if not arg.startswith("--autoplay-policy")]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        browser.close()


@contextmanager
def opened(chromium: Any, file: Path, count: int) -> Iterator[Any]:
    """The page of ``file``, opened with its ``count`` videos loaded. Fails on any page or
    console error (a script the page's policy blocks is one) and on any request other
    than the file itself."""
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda request: requests.append(request.url))
    page.goto(file.as_uri())
    ready = f"() => {VIDEOS}.length === {count} && {VIDEOS}.every((v) => v.readyState >= 2)"
    page.wait_for_function(ready)
    yield page
    context.close()
    assert errors == []
    assert [url for url in requests if not url.startswith("data:")] == [file.as_uri()]


@pytest.fixture
def page(chromium: Any, page_file: Path) -> Iterator[Any]:
    """The sweep's page, opened from its file with its four videos loaded."""
    with opened(chromium, page_file, 4) as page:
        yield page


def times(page: Any) -> list[float]:
    page.wait_for_function(SETTLED)
    return page.evaluate(f"() => {VIDEOS}.map((v) => v.currentTime)")


def button(page: Any, name: str) -> Any:
    return page.get_by_role("button", name=name, exact=True)


def test_play_all_starts_every_video_and_pause_all_lines_them_up(page):
    assert page.evaluate(f"() => {VIDEOS}.every((v) => v.muted && v.paused && !v.controls)")

    page.keyboard.press("Tab")  # the first control of the page
    assert page.evaluate("() => document.activeElement.dataset.eco") == "play"
    page.keyboard.press("Enter")

    page.wait_for_function(f"() => {VIDEOS}.every((v) => !v.paused && v.currentTime > 0.2)")
    assert button(page, "Pause all").inner_text() == "Pause all"
    button(page, "Pause all").click()
    page.wait_for_function(f"() => {VIDEOS}.every((v) => v.paused)")
    at = times(page)
    assert max(at) - min(at) < FRAME, at
    assert button(page, "Play all").is_visible()


def test_the_timeline_scrubs_every_video_to_one_time(page):
    slider = page.get_by_role("slider", name="Time")
    assert float(slider.get_attribute("max")) == pytest.approx(FRAMES / FPS, abs=FRAME)
    box = slider.bounding_box()
    for fraction in (0.5, 0.2, 0.8):
        page.mouse.click(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
        value = float(slider.input_value())
        assert 0.1 < value < 2.0
        at = times(page)
        assert max(at) - min(at) < FRAME, at
        assert all(abs(t - value) < FRAME for t in at), (value, at)
        assert page.evaluate(f"() => {VIDEOS}.every((v) => v.paused)")


def test_frame_steps_move_every_video_by_one_frame(page):
    slider = page.get_by_role("slider", name="Time")
    slider.focus()
    page.keyboard.press("Home")
    assert times(page) == [0, 0, 0, 0]

    button(page, "Forward one frame").click()
    assert times(page) == pytest.approx([FRAME] * 4, abs=1e-3)
    button(page, "Forward one frame").click()
    assert times(page) == pytest.approx([2 * FRAME] * 4, abs=1e-3)
    button(page, "Back one frame").click()
    assert times(page) == pytest.approx([FRAME] * 4, abs=1e-3)

    slider.focus()  # from the keyboard: arrows step, End goes to the end
    page.keyboard.press("ArrowRight")
    assert times(page) == pytest.approx([2 * FRAME] * 4, abs=1e-3)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert times(page) == pytest.approx([0] * 4, abs=1e-3)
    page.keyboard.press("End")
    assert times(page) == pytest.approx([FRAMES / FPS] * 4, abs=FRAME)
    assert "frame 17" in slider.get_attribute("aria-valuetext")


def test_loop_toggles_and_speed_sets_the_rate_of_every_video(page):
    loop = button(page, "Loop")
    assert loop.get_attribute("aria-pressed") == "true"
    assert page.evaluate(f"() => {VIDEOS}.map((v) => v.loop)") == [True] * 4
    loop.click()
    assert loop.get_attribute("aria-pressed") == "false"
    assert page.evaluate(f"() => {VIDEOS}.map((v) => v.loop)") == [False] * 4
    loop.press("Space")
    assert page.evaluate(f"() => {VIDEOS}.map((v) => v.loop)") == [True] * 4

    speed = page.get_by_role("combobox", name="Speed")
    for rate in ("0.25", "0.5", "2", "1"):
        speed.select_option(rate)
        assert page.evaluate(f"() => {VIDEOS}.map((v) => v.playbackRate)") == [float(rate)] * 4
    speed.select_option("2")
    button(page, "Play all").click()
    page.wait_for_function(f"() => {VIDEOS}.every((v) => !v.paused)")
    assert page.evaluate(f"() => {VIDEOS}.map((v) => v.playbackRate)") == [2.0] * 4


def test_without_loop_every_video_stops_at_its_end_and_the_transport_pauses(page):
    button(page, "Loop").click()
    page.get_by_role("combobox", name="Speed").select_option("2")
    button(page, "Play all").click()
    page.wait_for_function(f"() => {VIDEOS}.every((v) => v.ended)")
    button(page, "Play all").wait_for()  # the transport shows paused once all have ended
    assert page.evaluate(f"() => {VIDEOS}.every((v) => v.paused)")


def test_a_comparison_swipes_with_a_split_that_follows_the_pointer_and_the_keys(
    chromium, compare_file
):
    with opened(chromium, compare_file, 2) as page:
        first, second = page.locator("video").all()
        side, swipe = button(page, "Side by side"), button(page, "Swipe")
        handle = page.get_by_role("slider", name="Split")
        assert side.get_attribute("aria-pressed") == "true"
        assert swipe.get_attribute("aria-pressed") == "false"
        assert not handle.is_visible()
        a, b = first.bounding_box(), second.bounding_box()
        assert a["y"] == b["y"] and b["x"] >= a["x"] + a["width"]  # side by side

        swipe.click()
        assert swipe.get_attribute("aria-pressed") == "true"
        assert side.get_attribute("aria-pressed") == "false"
        a, b = first.bounding_box(), second.bounding_box()
        assert (a["x"], a["y"], a["width"], a["height"]) == (
            b["x"],
            b["y"],
            b["width"],
            b["height"],
        )
        assert handle.get_attribute("aria-valuenow") == "50"

        # Drag the handle to a quarter of the videos' width.
        grip = handle.bounding_box()
        page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
        page.mouse.down()
        page.mouse.move(a["x"] + a["width"] * 0.25, a["y"] + a["height"] / 2, steps=5)
        page.mouse.up()
        assert handle.get_attribute("aria-valuenow") == "25"
        assert inset(page) == pytest.approx(25, abs=0.5)
        assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == "Split"

        # Keys: ±1, Shift ±10, Home and End.
        page.keyboard.press("ArrowRight")
        assert handle.get_attribute("aria-valuenow") == "26"
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowLeft")
        assert handle.get_attribute("aria-valuenow") == "24"
        assert inset(page) == pytest.approx(24, abs=0.5)
        page.keyboard.press("Shift+ArrowRight")
        assert handle.get_attribute("aria-valuenow") == "34"
        page.keyboard.press("End")
        assert handle.get_attribute("aria-valuenow") == "100"
        page.keyboard.press("Home")
        assert handle.get_attribute("aria-valuenow") == "0"
        assert inset(page) == 0

        side.click()
        assert not handle.is_visible()
        assert page.evaluate("() => document.querySelectorAll('video')[1].style.clipPath") == ""
        a, b = first.bounding_box(), second.bounding_box()
        assert a["y"] == b["y"] and b["x"] >= a["x"] + a["width"]

        button(page, "Play all").click()
        page.wait_for_function(f"() => {VIDEOS}.every((v) => !v.paused && v.currentTime > 0.2)")
        button(page, "Pause all").click()
        page.wait_for_function(f"() => {VIDEOS}.every((v) => v.paused)")
        at = times(page)
        assert max(at) - min(at) < FRAME, at


def test_a_comparison_without_scripts_shows_both_videos_with_their_controls(chromium, compare_file):
    context = chromium.new_context(
        java_script_enabled=False, viewport={"width": 1200, "height": 900}
    )
    try:
        page = context.new_page()
        page.goto(compare_file.as_uri())
        first, second = page.locator("video").all()
        assert [v.get_attribute("controls") for v in (first, second)] == ["", ""]
        a, b = first.bounding_box(), second.bounding_box()
        assert a["y"] == b["y"] and b["x"] >= a["x"] + a["width"]
        assert page.get_by_role("slider", name="Split", include_hidden=True).count() == 1
        assert not page.get_by_role("button", name="Swipe", include_hidden=True).is_visible()
    finally:
        context.close()


def inset(page: Any) -> float:
    """The left inset of the second video's clip-path, in percent."""
    clip = page.evaluate("() => document.querySelectorAll('video')[1].style.clipPath")
    match = re.fullmatch(r"inset\(0(?:px)? 0(?:px)? 0(?:px)? ([\d.]+)%\)", clip)
    assert match, clip
    return float(match[1])
