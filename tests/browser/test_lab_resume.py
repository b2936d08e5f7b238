"""Never lose a video, in JupyterLab: after a kernel restart a new VideoWidget offers the
job the earlier kernel left unfinished, and Resume plays its video; a VideoGallery shows
a batch as a grid of cards that each end with a playing video. Against the embedded
sandbox (profile ``fast``), with a data folder (journal and videos) of this module's own.
"""

from __future__ import annotations

import ast
import re

import pytest
from playwright.sync_api import expect

from tests.browser.jupyter import JOB_ID, JupyterServer, VideoWidgetView

WIDGET_CELL = "from eco_widget import VideoWidget\nw = VideoWidget()\nw"
GALLERY_CELL = (
    "from eco_widget import VideoGallery\n"
    "g = VideoGallery(['a red kite over a beach', 'a blue boat in a bay',"
    " 'a green hill at dusk'], num_frames=9)\n"
    "g"
)
SUBMIT = (
    "from eco_widget import Client\n"
    "Client().submit('a lighthouse at night', num_frames=9, seed=5).id"
)
VIDEO_WIDTH = 832
ALL_PLAYING = """n => {
    const videos = [...document.querySelectorAll('.eco-grid-list .eco-run video')];
    return videos.length === n && videos.every(v => v.readyState >= 2 && v.videoWidth > 0);
}"""
RESTART_JS = """
async () => {
  const context = window.jupyterapp.shell.currentWidget.sessionContext;
  await context.session.kernel.restart();
}
"""


@pytest.fixture(scope="module")
def lab_home(jupyter_server, tmp_path_factory: pytest.TempPathFactory) -> JupyterServer:
    """A JupyterLab server whose kernels keep their journal and videos in a folder that
    no other test module writes to."""
    home = tmp_path_factory.mktemp("resume-home")
    return jupyter_server("lab", {"ECOHASH_HOME": str(home)})


def test_after_a_restart_the_pending_job_is_offered_and_resumed(lab_home, open_notebook):
    notebook = open_notebook(lab_home, [WIDGET_CELL])
    submitted = notebook.execute(SUBMIT)
    assert submitted["status"] == "ok", submitted
    job_id = ast.literal_eval(submitted["result"])
    assert JOB_ID.fullmatch(job_id)

    notebook.page.evaluate(RESTART_JS)  # the kernel, and its sandbox, start again
    notebook.wait_kernel_idle()
    notebook.run_all()
    view = VideoWidgetView(notebook).wait_rendered()
    banner = view.root.get_by_role("region", name="Jobs from an earlier session")
    expect(banner).to_be_visible()
    expect(banner.locator(".eco-pending-title")).to_have_text(
        "1 job from an earlier session is still pending"
    )
    expect(banner.locator(".eco-pending-prompt")).to_have_text("a lighthouse at night")
    notebook.wait_kernel_idle()
    notebook.screenshot(view.root, "resume-offer")

    banner.get_by_role("button", name="Resume").click()

    expect(banner).to_be_hidden()
    video = view.wait_video_playable()
    assert video["readyState"] >= 2 and video["videoWidth"] == VIDEO_WIDTH
    assert view.job_ids() == [job_id]
    assert view.kernel_value("[w.runs[0]['job_id'], w.runs[0]['seed'], w.pending]") == [
        job_id,
        5,
        [],
    ]
    saved = view.kernel_value("str(w.video.path)")
    assert re.search(r"a-lighthouse-at-night-s5.*\.mp4$", saved)


def test_a_gallery_of_three_items_plays_three_videos(lab_home, open_notebook):
    notebook = open_notebook(lab_home, [GALLERY_CELL])
    notebook.run_all()
    root = notebook.page.locator(".eco-widget").first
    cards = root.locator(".eco-grid-list .eco-run")
    expect(cards).to_have_count(3)
    expect(root.locator(".eco-form")).to_be_hidden()
    prompts = cards.locator(".eco-run-prompt").all_text_contents()
    assert prompts == ["a red kite over a beach", "a blue boat in a bay", "a green hill at dusk"]

    notebook.page.wait_for_function(ALL_PLAYING, arg=3, timeout=90_000, polling=100)

    expect(root.locator(".eco-grid-summary")).to_have_text("3 videos · 3 completed")
    notebook.screenshot(root, "gallery-completed")
    view = VideoWidgetView(notebook, name="g")
    assert view.kernel_value("[v.prompt for v in g.wait()]") == prompts
    assert len(set(view.kernel_value("[v.job.id for v in g.videos]"))) == 3
