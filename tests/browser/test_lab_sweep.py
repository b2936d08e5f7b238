"""A sweep and a comparison in JupyterLab (its default settings), against the embedded
sandbox: the table's headers, "Play all" starting every video, the timeline scrubbing
them together, and the compare mode's split."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.jupyter import NotebookSession, VideoWidgetView

SWEEP_CELL = (
    "from eco_widget import VideoGallery\n"
    "g = VideoGallery(num_frames=17, fps=8)\n"
    "g.sweep('a koi pond', seed=[1, 2], guidance_scale=[3.0, 5.0])\n"
    "g"
)
COMPARE_CELL = "result = g.wait()\nc = VideoGallery()\nc.compare(result[0], result[3].job.id)\nc"
FRAME = 1 / 8
RUN_TIMEOUT = 90_000

#: The sweep table's videos, once there are ``n`` and all can play.
_TABLE_PLAYABLE_JS = """
(n) => {
  const vs = [...document.querySelectorAll('.eco-sweep-table video')];
  return vs.length === n && vs.every((v) => v.readyState >= 2 && v.videoWidth > 0);
}
"""
_TABLE_VIDEOS_JS = """
() => [...document.querySelectorAll('.eco-sweep-table video')].map((v) => ({
  paused: v.paused, time: v.currentTime, rate: v.playbackRate, loop: v.loop,
}))
"""
_TOGETHER_JS = """
([goal, frame]) => {
  const ts = [...document.querySelectorAll('.eco-sweep-table video')].map((v) => v.currentTime);
  return ts.length === 4 && ts.every((t) => Math.abs(t - goal) <= frame);
}
"""


def wait_for(notebook: NotebookSession, script: str, arg: object = None) -> None:
    notebook.page.wait_for_function(script, arg=arg, timeout=RUN_TIMEOUT, polling=100)


@pytest.mark.slow
def test_a_two_by_two_sweep_plays_and_scrubs_together(lab, open_notebook) -> None:
    notebook = open_notebook(lab, [SWEEP_CELL])
    notebook.run_all()
    page = notebook.page
    table = page.locator(".eco-sweep-table").first
    expect(table).to_be_visible(timeout=RUN_TIMEOUT)
    columns = table.locator("thead th[scope=col]:not(.eco-sweep-corner)")
    expect(columns).to_have_text(["Seed 1", "Seed 2"])
    expect(table.locator("tbody th[scope=row]")).to_have_text(["Guidance 3.0", "Guidance 5.0"])
    wait_for(notebook, _TABLE_PLAYABLE_JS, 4)

    transport = page.locator(".eco-grid").first.get_by_role(
        "toolbar", name="Playback of every video"
    )
    videos_paused = (
        "(paused) => [...document.querySelectorAll('.eco-sweep-table video')]"
        ".every((v) => v.paused === paused)"
    )
    # Seen running, the videos start together once they arrive.
    wait_for(notebook, videos_paused, False)
    transport.get_by_role("button", name="Pause all").click()
    wait_for(notebook, videos_paused, True)
    transport.get_by_role("button", name="Play all").click()
    wait_for(notebook, videos_paused, False)
    transport.get_by_role("button", name="Pause all").click()
    wait_for(notebook, videos_paused, True)
    transport.get_by_role("slider", name="Time").fill("1.25")
    wait_for(notebook, _TOGETHER_JS, [1.25, FRAME])
    transport.get_by_role("button", name="Forward one frame").click()
    wait_for(notebook, _TOGETHER_JS, [1.25 + FRAME, FRAME / 2])
    transport.get_by_role("combobox", name="Speed").select_option("0.5")
    assert {video["rate"] for video in page.evaluate(_TABLE_VIDEOS_JS)} == {0.5}
    # The cells hold the runs of the sweep, in the table's order, as Python has them.
    cells = VideoWidgetView(notebook, name="g").kernel_value(
        "[(r['seed'], r['guidance_scale']) for k in g.sweep_layout['runs']"
        " for r in g.runs if r['key'] == k]"
    )
    assert [tuple(cell) for cell in cells] == [(1, 3.0), (2, 3.0), (1, 5.0), (2, 5.0)]


@pytest.mark.slow
def test_compare_swipes_between_two_videos(lab, open_notebook) -> None:
    notebook = open_notebook(lab, [SWEEP_CELL, COMPARE_CELL])
    notebook.run_all()
    page = notebook.page
    compare = page.locator(".eco-compare:not([hidden])")
    expect(compare).to_be_visible(timeout=RUN_TIMEOUT)
    wait_for(
        notebook,
        "() => [...document.querySelectorAll('.eco-compare-stage video')]"
        ".filter((v) => v.readyState >= 2 && v.videoWidth > 0).length === 2",
    )
    compare.get_by_role("button", name="Swipe").click()
    handle = compare.get_by_role("slider", name="Split")
    second = compare.locator(".eco-compare-stage video").nth(1)

    def split() -> float:
        clip = second.evaluate("v => getComputedStyle(v).clipPath")
        found = re.fullmatch(r"inset\(0px 0px 0px ([\d.]+)%\)", clip)
        assert found, clip
        return float(found.group(1))

    before = split()
    handle.press("Shift+ArrowLeft")
    assert split() == pytest.approx(before - 10, abs=0.5)
    assert handle.get_attribute("aria-valuenow") == str(round(before - 10))
