"""The ``limits`` trait: what the front end knows of the form and the words it shows,
derived from eco_widget/_params.py and the run phases (static/PROTOCOL.md)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from eco_widget import VideoGallery, VideoWidget
from eco_widget._models import JobStatus
from eco_widget._params import PARAMETERS, PROMPT_MAX_CHARS, VideoParams
from eco_widget._progress import Phase
from eco_widget.notebook import _run
from eco_widget.notebook._form import form_limits
from eco_widget.notebook._run import Run

WIDGET_JS = Path(_run.__file__).parent / "static" / "widget.js"

#: Every phase a run can be in: the progress phases and the widget's own.
RUN_PHASES = {
    *(value for name, value in vars(Phase).items() if name.isupper()),
    _run.WAITING,
    _run.RESUMING,
    _run.STOPPED,
    _run.ERROR,
}
#: The gallery's counts, as widget.js groups its runs.
TALLIES = {"completed", "running", _run.WAITING, "failed", _run.STOPPED}
#: A pending job's status: any the journal records, except a failed job (never offered).
PENDING_STATUSES = {status.value for status in JobStatus} - {JobStatus.FAILED.value}


@pytest.fixture(params=[VideoWidget, VideoGallery])
def limits(request):
    widget = request.param()
    try:
        yield widget.limits
    finally:
        widget.close()


def test_the_trait_is_form_limits_and_plain_json(limits):
    assert limits == form_limits()
    assert json.loads(json.dumps(limits)) == limits
    assert set(limits) == {*PARAMETERS, "prompt", "phases", "tallies", "pending_statuses"}


@pytest.mark.parametrize("name", list(PARAMETERS))
def test_each_parameter_is_as_params_declares_it(limits, name):
    spec = PARAMETERS[name]
    entry = limits[name]
    assert set(entry) == {"min", "max", "step", "default", "kind", "label", "help"}
    assert (entry["min"], entry["max"], entry["default"]) == (
        spec.minimum,
        spec.maximum,
        spec.default,
    )
    assert entry["kind"] == {int: "int", float: "float"}[spec.kind]
    assert entry["help"] == spec.help
    assert isinstance(entry["label"], str) and entry["label"].strip()
    step = entry["step"]
    if spec.kind is int:
        assert step == 1
    else:
        # The input's arrows land on the bounds and the default.
        assert step > 0
        for value in (spec.maximum, spec.default):
            steps = (value - spec.minimum) / step
            assert math.isclose(steps, round(steps), abs_tol=1e-9), (name, value, step)


def test_the_labels_are_distinct_and_the_form_traits_default_to_params(limits):
    labels = [limits[name]["label"] for name in PARAMETERS]
    assert len(set(labels)) == len(labels)
    widget = VideoWidget()
    try:
        assert {name: getattr(widget, name) for name in PARAMETERS} == {
            name: limits[name]["default"] for name in PARAMETERS
        }
    finally:
        widget.close()


def test_the_prompt_limit(limits):
    assert limits["prompt"] == {"max_chars": PROMPT_MAX_CHARS}


def test_every_phase_has_the_words_a_run_shows_for_it(limits):
    phases = limits["phases"]
    assert set(phases) == RUN_PHASES
    # The same words as a run's own label when it has no more precise one.
    for phase in sorted(RUN_PHASES):
        run = Run(key="r1", params=VideoParams.create("a kite"))
        run.set_phase(phase)
        assert run.to_json()["phase_label"] == phases[phase], phase


def test_the_gallery_counts_and_pending_statuses_have_words(limits):
    assert set(limits["tallies"]) == TALLIES
    assert set(limits["pending_statuses"]) == PENDING_STATUSES
    for table in ("phases", "tallies", "pending_statuses"):
        words = limits[table].values()
        assert all(isinstance(word, str) and word.strip() for word in words), table


def test_widget_js_repeats_none_of_it():
    """The front end takes the labels, words and numbers from the trait: none of them is
    written in widget.js (words that are also the protocol's keys aside, e.g. "failed")."""
    source = WIDGET_JS.read_text(encoding="utf-8")
    limits = form_limits()
    texts = [limits[name]["label"] for name in PARAMETERS]
    texts += [limits[name]["help"] for name in PARAMETERS]
    for table in ("phases", "tallies", "pending_statuses"):
        texts += [word for key, word in limits[table].items() if word != key]
    for text in texts:
        assert f'"{text}"' not in source, text
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", source, flags=re.S)  # comments may give examples
    numbers = {str(PROMPT_MAX_CHARS), str(PARAMETERS["seed"].maximum)}
    for name, spec in PARAMETERS.items():
        if name != "seed":
            numbers |= {f"{spec.default:g}", f"{spec.maximum:g}"}
    # One-digit numbers and 60 (seconds in a minute) have other uses.
    for number in {number for number in numbers if len(number) > 1} - {"60"}:
        assert not re.search(rf"(?<![\w.]){re.escape(number)}(?![\w.])", code), number
