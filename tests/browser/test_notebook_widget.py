"""VideoWidget in Notebook 7, against the embedded sandbox (profile ``fast``)."""

from __future__ import annotations

import pytest

from tests.browser.jupyter import PROCESSING, QUEUED, VideoWidgetView

WIDGET_CELL = "from eco_widget import VideoWidget\nw = VideoWidget()\nw"
PROMPT = "a paper boat drifting down a rainy street"
VIDEO_WIDTH = 832
RUNNING = {"queued", "processing", "downloading"}


def test_generate_then_reload_shows_the_same_video(notebook7, open_notebook) -> None:
    notebook = open_notebook(notebook7, [WIDGET_CELL])
    notebook.run_all()
    view = VideoWidgetView(notebook).wait_rendered()
    notebook.wait_kernel_idle()

    generation = view.generate_and_follow(
        PROMPT, while_running=lambda: notebook.screenshot(view.root, "light-running")
    )

    assert generation.showed_in_order(QUEUED, PROCESSING), generation.texts
    assert generation.kernel_status_while_processing == "idle"
    two, status = generation.answer_while_running
    assert two == 2
    assert status in RUNNING
    assert generation.video["readyState"] >= 2
    assert generation.video["videoWidth"] == VIDEO_WIDTH
    assert generation.video["width"] == pytest.approx(VIDEO_WIDTH, abs=0.5)
    assert len(generation.job_ids) == 1
    notebook.screenshot(view.root, "light-completed")
    notebook.save()

    notebook.reload()
    view.wait_rendered()
    video = view.wait_video_playable()

    assert video["videoWidth"] == VIDEO_WIDTH
    assert view.job_ids() == generation.job_ids
    assert view.run_count() == 1
