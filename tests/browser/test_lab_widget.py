"""VideoWidget in JupyterLab, against the embedded sandbox (profile ``fast``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.jupyter import PROCESSING, QUEUED, VideoWidgetView, deadline_wait

WIDGET_CELL = "from eco_widget import VideoWidget\nw = VideoWidget()\nw"
PROMPT = "a red balloon floating over a mountain at dawn"
XSS = '<img src=x onerror="window.__xss=1">'
FAKE_KEY = "eco_test_SECRET_must_not_leak"
VIDEO_WIDTH = 832
RUNNING = {"queued", "processing", "downloading"}
PROMPT_ERROR = re.compile(r"\bprompt\b", re.IGNORECASE)


def open_widget(open_notebook, server) -> VideoWidgetView:
    notebook = open_notebook(server, [WIDGET_CELL])
    notebook.run_all()
    view = VideoWidgetView(notebook).wait_rendered()
    notebook.wait_kernel_idle()
    return view


def test_generate_runs_on_an_idle_kernel_and_plays_the_video(lab, open_notebook) -> None:
    view = open_widget(open_notebook, lab)
    view.notebook.set_theme("JupyterLab Light")

    generation = view.generate_and_follow(
        PROMPT, while_running=lambda: view.notebook.screenshot(view.root, "light-running")
    )

    assert generation.showed_in_order(QUEUED, PROCESSING), generation.texts
    assert generation.kernel_status_while_processing == "idle"
    two, status = generation.answer_while_running
    assert two == 2
    assert status in RUNNING
    video = generation.video
    assert video["readyState"] >= 2 and video["videoWidth"] == VIDEO_WIDTH
    assert video["width"] == pytest.approx(VIDEO_WIDTH, abs=0.5)
    assert len(generation.job_ids) == 1
    assert view.kernel_value("w.status") == "completed"
    assert view.run_count() == 1
    view.notebook.screenshot(view.root, "light-completed")


def test_reload_shows_the_video_again_without_a_new_job(lab, open_notebook) -> None:
    view = open_widget(open_notebook, lab)
    view.notebook.set_theme("JupyterLab Dark")
    try:
        generation = view.generate_and_follow(
            PROMPT, while_running=lambda: view.notebook.screenshot(view.root, "dark-running")
        )
        view.notebook.screenshot(view.root, "dark-completed")
    finally:
        view.notebook.set_theme("JupyterLab Light")
    assert len(generation.job_ids) == 1
    view.notebook.save()

    view.notebook.reload()
    view.wait_rendered()
    video = view.wait_video_playable()

    assert video["videoWidth"] == VIDEO_WIDTH
    assert view.job_ids() == generation.job_ids
    assert view.run_count() == 1
    assert view.kernel_value("w.runs[0]['job_id']") == generation.job_ids[0]


def test_blank_prompt_shows_an_error_and_keeps_the_form(lab, open_notebook) -> None:
    view = open_widget(open_notebook, lab)
    frames = view.root.get_by_label("Frames", exact=True)
    frames.fill("17")
    view.prompt.fill("   ")

    view.generate_button.click()

    expect(view.prompt).to_have_attribute("aria-invalid", "true")
    expect(view.prompt).to_have_accessible_description(PROMPT_ERROR)
    description = view.prompt.get_attribute("aria-describedby") or ""
    shown = [view.page.locator(f"[id='{ref}']") for ref in description.split()]
    assert any(PROMPT_ERROR.search(node.inner_text()) for node in shown if node.is_visible())
    assert frames.input_value() == "17"
    assert view.prompt.input_value() == "   "
    deadline_wait(lambda: view.kernel_value("w.num_frames") == 17, 10, "the frames to sync")
    assert view.run_count() == 0


def test_markup_in_a_prompt_is_shown_as_text(lab, open_notebook, page) -> None:
    view = open_widget(open_notebook, lab)

    view.generate_and_follow(XSS)

    assert view.prompt.input_value() == XSS
    assert view.root.get_by_text(XSS).count() >= 1
    assert view.root.locator("img[src='x']").count() == 0
    assert page.evaluate("() => window.__xss") is None
    assert view.kernel_value("w.runs[0]['prompt']") == XSS


def test_api_keys_reach_neither_the_page_nor_the_notebook(
    jupyter_server, open_notebook, page
) -> None:
    server = jupyter_server("lab", {"ECOHASH_API_KEY": FAKE_KEY})
    view = open_widget(open_notebook, server)
    assert view.kernel_value("__import__('os').environ.get('ECOHASH_API_KEY')") == FAKE_KEY

    view.generate_and_follow(PROMPT)
    saved = view.notebook.save()

    sandbox_key = (Path(server.env["ECOHASH_SANDBOX_DIR"]) / "client.key").read_text().strip()
    assert sandbox_key.startswith("eco_")
    states = view.notebook.widget_states()
    assert any(
        model["state"].get("backend") == "sandbox"
        for state in states
        for model in state["state"].values()
    ), states
    stored = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]
    assert any(model["state"].get("runs") for model in stored["state"].values())
    places = {
        "page": page.content(),
        "widget state": json.dumps(states),
        "saved notebook": view.notebook.path.read_text(encoding="utf-8"),
    }
    for secret in (sandbox_key, FAKE_KEY):
        for place, text in places.items():
            assert secret not in text, f"an API key is in the {place}"
