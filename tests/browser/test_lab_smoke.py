"""The browser infrastructure itself: a throwaway anywidget renders, takes a click and
syncs it to the kernel, in JupyterLab and in Notebook 7."""

from __future__ import annotations

import pytest

COUNTER_CELL = '''
import anywidget
import traitlets


class Counter(anywidget.AnyWidget):
    _esm = """
    export default {
      render({ model, el }) {
        const button = document.createElement("button");
        button.className = "smoke-counter";
        const show = () => { button.textContent = `count is ${model.get("value")}`; };
        button.addEventListener("click", () => {
          model.set("value", model.get("value") + 1);
          model.save_changes();
        });
        model.on("change:value", show);
        show();
        el.appendChild(button);
      },
    };
    """
    value = traitlets.Int(0).tag(sync=True)


counter = Counter()
counter
'''


@pytest.fixture(params=["lab", "notebook"])
def server(request: pytest.FixtureRequest, jupyter_server):
    return jupyter_server(request.param)


def test_anywidget_renders_and_syncs_a_click(server, open_notebook, page) -> None:
    notebook = open_notebook(server, [COUNTER_CELL])
    notebook.run_all()
    button = notebook.wait_output(0, ".smoke-counter")
    assert button.text_content() == "count is 0"

    button.click()
    button.click()

    page.get_by_text("count is 2").wait_for()
    notebook.wait_kernel_idle()
    reply = notebook.execute("counter.value")
    assert (reply["status"], reply["result"]) == ("ok", "2")
    assert notebook.kernel_status() == "idle"


def test_widget_state_theme_save_and_screenshot(server, open_notebook, page) -> None:
    notebook = open_notebook(server, [COUNTER_CELL])
    notebook.run_all()
    button = notebook.wait_output(0, ".smoke-counter")
    button.click()
    page.get_by_text("count is 1").wait_for()

    states = notebook.widget_states()
    values = [
        model["state"].get("value")
        for state in states
        for model in state["state"].values()
        if model["model_name"] == "AnyModel"
    ]
    assert values == [1]

    saved = notebook.save()
    widget_state = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]
    assert [
        model["state"]["value"]
        for model in widget_state["state"].values()
        if model["model_name"] == "AnyModel"
    ] == [1]

    notebook.set_theme("JupyterLab Dark")
    dark = notebook.screenshot(button, "smoke-dark")
    notebook.set_theme("JupyterLab Light")
    light = notebook.screenshot(button, "smoke-light")
    assert dark.stat().st_size > 0 and light.stat().st_size > 0
    assert dark.read_bytes() != light.read_bytes()
