"""One source for every parameter fact.

The generation parameters — their names, kinds, defaults and ranges — are declared once,
in ``eco_widget._params.PARAMETERS``. Python signatures keep explicit keyword parameters
(for IDEs and ``help()``), the journal keeps one column per parameter, the front end
keeps fallback limits and the README documents the contract, so those are copies: each
test here derives what a copy must say from ``PARAMETERS`` and names the copy that
drifted. The places that build on ``PARAMETERS`` directly (the magic's and the
command's options, the server's OpenAPI document and job objects, the widget's
``limits``) are checked the same way, through what they produce.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from eco_widget import AsyncClient, Client, InvalidParameterError, VideoGallery, VideoWidget
from eco_widget._batch import BatchPlan
from eco_widget._journal import _PARAM_COLUMNS, _SCHEMA
from eco_widget._journal_entry import JournalEntry
from eco_widget._params import MODEL, PARAMETERS, ParamSpec, VideoParams
from eco_widget.cli._parser import PARAM_FLAGS, build_parser
from eco_widget.notebook import _magic_args as magic
from eco_widget.notebook._form import form_limits
from eco_widget.notebook._run import _params_json
from tests.conftest import KEY

ROOT = Path(__file__).resolve().parent.parent
NAMES = tuple(PARAMETERS)


def _number(value: float) -> str:
    """A bound as the help texts write it: ``81``, ``20``, ``0``."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def _annotation(spec: ParamSpec) -> str:
    """What a signature's annotation of the parameter must read."""
    return spec.kind.__name__ + (" | None" if spec.default is None else "")


def _beyond(spec: ParamSpec) -> int | float:
    """A value just above the range."""
    return spec.maximum + (1 if spec.kind is int else 0.5)


def _same_default(value: Any, spec: ParamSpec) -> bool:
    """``value`` is the default, of the same type (``5`` is not ``5.0``)."""
    return value == spec.default and type(value) is type(spec.default)


def _drift(copy: str, problems: list[str]) -> None:
    assert not problems, f"{copy} drifted from eco_widget._params.PARAMETERS:\n  " + (
        "\n  ".join(problems)
    )


# -- Python signatures ---------------------------------------------------------------------

_EMPTY = inspect.Parameter.empty

#: Every public callable taking the parameters as keywords, and its prompt's default.
SIGNATURES = {
    "Client.submit": (Client.submit, _EMPTY),
    "Client.generate": (Client.generate, _EMPTY),
    "AsyncClient.submit": (AsyncClient.submit, _EMPTY),
    "AsyncClient.generate": (AsyncClient.generate, _EMPTY),
    "VideoParams.create": (VideoParams.create, _EMPTY),
    "VideoWidget.__init__": (VideoWidget.__init__, ""),
}


def _signature_problems(function: Any, prompt_default: Any) -> list[str]:
    parameters = inspect.signature(function).parameters
    problems = []
    if "prompt" not in parameters:
        problems.append("no prompt parameter")
    elif parameters["prompt"].default != prompt_default:
        problems.append(
            f"prompt's default is {parameters['prompt'].default!r}, not {prompt_default!r}"
        )
    missing = [name for name in NAMES if name not in parameters]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    order = [name for name in parameters if name in PARAMETERS]
    if not missing and order != list(NAMES):
        problems.append(f"parameters in the order {order}, not {list(NAMES)}")
    for name in NAMES:
        if name not in parameters:
            continue
        parameter, spec = parameters[name], PARAMETERS[name]
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            problems.append(f"{name} is {parameter.kind.description}, not keyword-only")
        if not _same_default(parameter.default, spec):
            problems.append(f"{name}={parameter.default!r}, the default is {spec.default!r}")
        annotation = parameter.annotation
        if not isinstance(annotation, str):
            annotation = inspect.formatannotation(annotation)
        if annotation != _annotation(spec):
            problems.append(f"{name}: {annotation}, the kind is {_annotation(spec)}")
    return problems


@pytest.mark.parametrize("copy", SIGNATURES)
def test_signatures_take_every_parameter_with_its_default(copy):
    function, prompt_default = SIGNATURES[copy]
    _drift(copy, _signature_problems(function, prompt_default))


def test_the_signature_check_sees_a_drifting_default():
    frames = PARAMETERS["num_frames"].default

    def drifted(prompt: str, *, num_frames: int = frames + 1, fps: float = 16.0) -> None: ...

    problems = _signature_problems(drifted, _EMPTY)
    assert f"num_frames={frames + 1}, the default is {frames}" in problems
    assert "fps: float, the kind is int" in problems
    assert any(problem.startswith("missing num_inference_steps") for problem in problems)


def test_video_params_fields():
    fields = {field.name: field for field in dataclasses.fields(VideoParams)}
    problems = []
    order = [name for name in fields if name in PARAMETERS]
    if order != list(NAMES):
        problems.append(f"fields {order}, not {list(NAMES)}")
    for name in NAMES:
        if name not in fields:
            continue
        field, spec = fields[name], PARAMETERS[name]
        if not _same_default(field.default, spec):
            problems.append(f"{name} = {field.default!r}, the default is {spec.default!r}")
        if field.type != _annotation(spec):
            problems.append(f"{name}: {field.type}, the kind is {_annotation(spec)}")
    _drift("the VideoParams dataclass", problems)
    created = VideoParams.create("a red balloon")
    _drift(
        "VideoParams.create() without parameters",
        [
            f"{name} is {getattr(created, name)!r}"
            for name, spec in PARAMETERS.items()
            if not _same_default(getattr(created, name), spec)
        ],
    )


# -- The journal ---------------------------------------------------------------------------


def test_journal_entry_has_a_column_per_parameter():
    names = [field.name for field in dataclasses.fields(JournalEntry)]
    types = {field.name: field.type for field in dataclasses.fields(JournalEntry)}
    start = names.index("prompt") + 1
    problems = []
    if tuple(names[start : start + len(NAMES)]) != NAMES:
        problems.append(f"fields after prompt {names[start : start + len(NAMES)]}, not {NAMES}")
    for name, spec in PARAMETERS.items():
        if name in types and types[name] != f"{spec.kind.__name__} | None":
            problems.append(f"{name}: {types[name]}, the kind is {spec.kind.__name__} | None")
    _drift("JournalEntry", problems)


def test_journal_columns():
    _drift(
        "eco_widget._journal._PARAM_COLUMNS",
        [] if _PARAM_COLUMNS == NAMES else [f"{_PARAM_COLUMNS}, not {NAMES}"],
    )
    columns = dict(re.findall(r"^\s+(\w+) (INTEGER|REAL|TEXT)\b", _SCHEMA, re.MULTILINE))
    sql = {int: "INTEGER", float: "REAL"}
    _drift(
        "the journal's SQL schema",
        [
            f"{name} is {columns.get(name)}, not {sql[spec.kind]}"
            for name, spec in PARAMETERS.items()
            if columns.get(name) != sql[spec.kind]
        ],
    )


def test_journal_entry_params_round_trip():
    given = VideoParams.create(
        "a red balloon", **{name: spec.minimum for name, spec in PARAMETERS.items()}
    )
    entry = JournalEntry(
        base_url="http://x",
        job_id="vid_1",
        account="a",
        prompt=given.prompt,
        **{name: getattr(given, name) for name in NAMES},
        status="queued",
        progress=None,
        submitted_at=0.0,
        updated_at=0.0,
        created=None,
        completed_at=None,
        expires_at=None,
        saved_path=None,
        saved_size=None,
        error_type=None,
        error_message=None,
        batch=None,
        batch_index=None,
    )
    assert entry.params == given, "JournalEntry.params lost a parameter"


# -- The notebook: widget, gallery, form limits, front end ---------------------------------


@pytest.fixture
def widgets(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOHASH_HOME", str(tmp_path / "home"))
    made: list[VideoWidget] = []
    yield made
    for widget in made:
        widget.close()


def test_widget_traits():
    traits = VideoWidget.class_traits()
    kinds = {int: "Int", float: "Float"}
    problems = []
    for name, spec in PARAMETERS.items():
        trait = traits.get(name)
        if trait is None:
            problems.append(f"no {name} trait")
            continue
        if type(trait).__name__ != kinds[spec.kind]:
            problems.append(f"{name} is a {type(trait).__name__} trait, not {kinds[spec.kind]}")
        if not _same_default(trait.default_value, spec):
            problems.append(f"{name} defaults to {trait.default_value!r}, not {spec.default!r}")
        if trait.allow_none != (spec.default is None):
            problems.append(f"{name}: allow_none is {trait.allow_none}")
        if not trait.metadata.get("sync"):
            problems.append(f"{name} is not synced to the front end")
    _drift("VideoWidget's traits", problems)


def _limits_problems(limits: dict[str, Any]) -> list[str]:
    problems = []
    params = [name for name in limits if name in PARAMETERS]
    if params != list(NAMES):
        problems.append(f"parameter entries {params}, not {list(NAMES)}")
    for name, spec in PARAMETERS.items():
        expected = {
            "min": spec.minimum,
            "max": spec.maximum,
            "default": spec.default,
            "kind": spec.kind.__name__,
            "help": spec.help,
        }
        given = {key: limits.get(name, {}).get(key) for key in expected}
        if given != expected:
            problems.append(f"{name}: {given}, not {expected}")
    return problems


def test_form_limits():
    _drift("form_limits()", _limits_problems(form_limits()))


def test_widget_state_and_limits_sent_to_the_front_end(widgets):
    widget = VideoWidget()
    widgets.append(widget)
    state = widget.get_state()
    _drift("the limits a VideoWidget sends", _limits_problems(state["limits"]))
    _drift(
        "a new VideoWidget's form",
        [
            f"{name} is {state.get(name)!r}"
            for name, spec in PARAMETERS.items()
            if not _same_default(state.get(name), spec)
        ],
    )


@pytest.mark.parametrize("name", NAMES)
def test_gallery_takes_each_parameter_as_a_default(widgets, name):
    spec = PARAMETERS[name]
    gallery = VideoGallery(**{name: spec.maximum})
    widgets.append(gallery)
    assert getattr(gallery, name) == spec.maximum, f"VideoGallery(...) dropped {name}"
    with pytest.raises(InvalidParameterError) as info:
        widgets.append(VideoGallery(**{name: _beyond(spec)}))
    assert info.value.param == name, f"VideoGallery accepted {name}={_beyond(spec)}"


def test_front_end_parameter_names_and_fallback_limits():
    """widget.js lists the parameters' inputs; the ranges, defaults and kinds come from
    ``limits``, and a fallback for a missing entry, if it keeps one, must agree."""
    script = (ROOT / "eco_widget" / "notebook" / "static" / "widget.js").read_text()
    names = re.search(r"^const PARAM_NAMES = \[([^\]]*)\];", script, re.MULTILINE)
    problems = []
    if names is not None:
        listed = re.findall(r'"(\w+)"', names.group(1))
        if listed != list(NAMES):
            problems.append(f"PARAM_NAMES {listed}, not {list(NAMES)}")
    fallback = re.search(r"const DEFAULT_LIMITS = \{(.*?)\n\};", script, re.DOTALL)
    if names is None and fallback is None:
        problems.append("neither PARAM_NAMES nor DEFAULT_LIMITS: where are the inputs listed?")
    entries = re.findall(
        r"^\s*(\w+): \{ min: ([\d.]+), max: ([\d.]+), default: ([\w.]+), kind: \"(\w+)\"",
        fallback.group(1) if fallback else "",
        re.MULTILINE,
    )
    if fallback and [entry[0] for entry in entries] != list(NAMES):
        problems.append(f"DEFAULT_LIMITS {[entry[0] for entry in entries]}, not {list(NAMES)}")
    for name, low, high, default, kind in entries:
        spec = PARAMETERS.get(name)
        if spec is None:
            continue
        expected = (
            _number(spec.minimum),
            _number(spec.maximum),
            "null" if spec.default is None else _number(spec.default),
            spec.kind.__name__,
        )
        if (low, high, default, kind) != expected:
            problems.append(f"DEFAULT_LIMITS.{name}: {(low, high, default, kind)}, not {expected}")
    _drift("eco_widget/notebook/static/widget.js", problems)


def test_protocol_document_limits():
    """PROTOCOL.md shows the ``limits`` trait with example values: those it writes out
    are PARAMETERS' (``{…}`` elides the others), and it names every parameter."""
    text = (ROOT / "eco_widget" / "notebook" / "static" / "PROTOCOL.md").read_text()
    shown = re.findall(
        r'"(\w+)": \{"min": ([\d.]+), "max": ([\d.]+),(?: "step": [\d.]+,)? "default": ([\w.]+)',
        text,
    )
    problems = [] if shown else ["no parameter's limits are written out"]
    for name, low, high, default in shown:
        spec = PARAMETERS.get(name)
        if spec is None:
            problems.append(f"limits of an unknown parameter {name}")
            continue
        expected = (repr(spec.minimum), repr(spec.maximum), json.dumps(spec.default))
        if (low, high, default) != expected:
            problems.append(f"{name}: {(low, high, default)}, not {expected}")
    listed = ", ".join(f"`{name}`" for name in NAMES)
    if f"({listed})" not in " ".join(text.split()):
        problems.append(f"no list of the parameter traits ({listed})")
    _drift("eco_widget/notebook/static/PROTOCOL.md", problems)


def test_run_state_carries_every_parameter():
    params = VideoParams.create("a kite", **{n: s.minimum for n, s in PARAMETERS.items()})
    expected = {"prompt": "a kite", **{n: s.minimum for n, s in PARAMETERS.items()}}
    state = _params_json(params)
    assert list(state) == [*expected, "duration_seconds"], "a run's state lost a parameter"
    assert {key: state[key] for key in expected} == expected
    assert list(_params_json(None)) == list(state)


# -- Batches ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_batch_items_take_each_parameter_within_its_range(name):
    spec = PARAMETERS[name]
    plan = BatchPlan([{"prompt": "a kite", name: spec.maximum}], account="")
    assert getattr(plan.items[0], name) == spec.maximum
    with pytest.raises(InvalidParameterError) as info:
        BatchPlan([{"prompt": "a kite", name: _beyond(spec)}], account="")
    assert info.value.param == f"items[0].{name}"
    assert f"{_number(spec.minimum)} to {_number(spec.maximum)}" in str(info.value)


def test_batch_items_list_the_parameters():
    with pytest.raises(InvalidParameterError) as info:
        BatchPlan([{"prompt": "a kite", "frames": 9}], account="")
    assert f"accepted: prompt, {', '.join(NAMES)}" in str(info.value)


# -- The magic -------------------------------------------------------------------------


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {action.dest: action for action in parser._actions}


def _help_problems(name: str, action: argparse.Action | None) -> list[str]:
    spec = PARAMETERS[name]
    if action is None:
        return [f"no option for {name}"]
    default = "random" if spec.default is None else _number(spec.default)
    expected = f"{spec.help}; {_number(spec.minimum)} to {_number(spec.maximum)}, default {default}"
    problems = []
    if action.help != expected:
        problems.append(f"{name}'s help is {action.help!r}, not {expected!r}")
    if action.metavar != ("N" if spec.kind is int else "X"):
        problems.append(f"{name}'s metavar is {action.metavar!r}")
    return problems


def test_magic_options():
    problems = []
    if tuple(magic.FLAGS) != NAMES:
        problems.append(f"FLAGS names {tuple(magic.FLAGS)}, not {NAMES}")
    actions = _actions(magic.build_parser())
    for name in NAMES:
        flags = magic.FLAGS.get(name, ())
        if not flags or flags[0] != PARAM_FLAGS.get(name):
            problems.append(f"{name}'s first option is not the command's {PARAM_FLAGS.get(name)}")
        problems += _help_problems(name, actions.get(name))
        if name in actions and tuple(actions[name].option_strings) != flags:
            problems.append(f"{name}'s options are {actions[name].option_strings}, not {flags}")
    usage = magic.usage()
    for name, flags in magic.FLAGS.items():
        shown = f"[{flags[0]} {'N' if PARAMETERS[name].kind is int else 'X'}]"
        if shown not in usage:
            problems.append(f"the usage lacks {shown}")
    _drift("the %ecovideo options (eco_widget/notebook/_magic_args.py)", problems)


@pytest.mark.parametrize("name", NAMES)
def test_magic_accepts_exactly_the_range(name):
    spec, flag = PARAMETERS[name], magic.FLAGS[name][0]
    assert magic.parse(f"{flag} {spec.maximum} a kite").params == {name: spec.maximum}
    assert magic.parse(f"{flag} {spec.minimum} a kite").params == {name: spec.minimum}
    with pytest.raises(magic.MagicUsageError) as info:
        magic.parse(f"{flag} {_beyond(spec)} a kite")
    assert str(info.value).startswith(f"{flag} must be {spec.accepted}; got ")


# -- The command line ----------------------------------------------------------------------


def _subcommand(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return commands.choices[name]


@pytest.mark.parametrize("command", ["generate", "batch"])
def test_command_line_options(command):
    actions = _actions(_subcommand(command))
    problems = []
    if tuple(PARAM_FLAGS) != NAMES:
        problems.append(f"PARAM_FLAGS names {tuple(PARAM_FLAGS)}, not {NAMES}")
    for name, spec in PARAMETERS.items():
        action = actions.get(name)
        problems += _help_problems(name, action)
        if action is None:
            continue
        if action.option_strings != [PARAM_FLAGS.get(name)]:
            problems.append(f"{name}'s option is {action.option_strings}")
        if action.type is not spec.kind:
            problems.append(f"{name} is read as {action.type}, not {spec.kind.__name__}")
        # A batch line's own value wins over the option, so the option has no default.
        default = spec.default if command == "generate" else None
        if action.default != default or type(action.default) is not type(default):
            problems.append(f"{name} defaults to {action.default!r}, not {default!r}")
    _drift(f"ecovideo {command}'s options (eco_widget/cli/_parser.py)", problems)


def test_command_line_defaults_parse_to_the_defaults():
    args = build_parser().parse_args(["generate", "a", "kite"])
    _drift(
        "ecovideo generate's parsed defaults",
        [
            f"{name} is {getattr(args, name)!r}"
            for name, spec in PARAMETERS.items()
            if not _same_default(getattr(args, name), spec)
        ],
    )


# -- The local server ----------------------------------------------------------------------


@pytest.fixture
def api(make_server):
    server = make_server()
    with httpx.Client(base_url=server.url, timeout=15.0) as client:
        yield client


def _submit(api: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"model": MODEL, "prompt": "a kite over the sea", **fields}
    return api.post("/v1/video/generations", json=body, headers={"Authorization": f"Bearer {KEY}"})


def test_openapi_document(api):
    response = api.get("/openapi.json")
    assert response.status_code == 200
    schemas = response.json()["components"]["schemas"]
    request = schemas["VideoRequest"]["properties"]
    job = schemas["Job"]["properties"]
    problems = []
    if list(request) != ["model", "prompt", *NAMES]:
        problems.append(f"VideoRequest fields {list(request)}")
    for name, spec in PARAMETERS.items():
        kind = "integer" if spec.kind is int else "number"
        expected = {
            "type": [kind, "null"] if spec.default is None else kind,
            "minimum": spec.minimum,
            "maximum": spec.maximum,
            "default": spec.default,
        }
        given = {key: request.get(name, {}).get(key) for key in expected}
        if given != expected:
            problems.append(f"VideoRequest.{name}: {given}, not {expected}")
        if spec.default is None and "default" in request.get(name, {}):
            problems.append(f"VideoRequest.{name} has a default")
        echoed = {key: job.get(name, {}).get(key) for key in ("type", "minimum", "maximum")}
        if echoed != {"type": kind, "minimum": spec.minimum, "maximum": spec.maximum}:
            problems.append(f"Job.{name}: {echoed}")
    _drift("the server's /openapi.json", problems)


def test_server_echoes_every_parameter(api):
    given = {name: spec.minimum for name, spec in PARAMETERS.items()}
    response = _submit(api, **given)
    assert response.status_code == 200, response.text
    job = response.json()
    _drift(
        "the server's job object (eco_widget/server/_views.py)",
        [
            f"{name} is {job.get(name)!r}, sent {value!r}"
            for name, value in given.items()
            if job.get(name) != value or type(job.get(name)) is not type(value)
        ],
    )
    defaults = _submit(api).json()
    _drift(
        "the server's defaults",
        [
            f"{name} is {defaults.get(name)!r}"
            for name, spec in PARAMETERS.items()
            if spec.default is not None and not _same_default(defaults.get(name), spec)
        ],
    )


def test_server_refuses_each_parameter_beyond_its_range(api):
    problems = []
    for name, spec in PARAMETERS.items():
        response = _submit(api, **{name: _beyond(spec)})
        error = response.json().get("error", {})
        if response.status_code != 400 or error.get("param") != name:
            problems.append(f"{name}={_beyond(spec)}: {response.status_code} {error}")
        elif f"{_number(spec.minimum)} to {_number(spec.maximum)}" not in error["message"]:
            problems.append(f"{name}: {error['message']!r}")
    _drift("the server's validation", problems)


# -- The README ----------------------------------------------------------------------------


def _readme_range(spec: ParamSpec) -> str:
    if spec.maximum == 2**32 - 1:
        return f"{_number(spec.minimum)} – 2³²−1"
    return f"{_number(spec.minimum)}–{_number(spec.maximum)}"


def test_readme_parameter_table():
    text = (ROOT / "README.md").read_text()
    section = text.split("### Parameters", 1)[1].split("\n\n", 2)[1]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+?) \| ([^|]+?) \|$", section, re.MULTILINE)
    problems = []
    if [row[0] for row in rows] != ["prompt", *NAMES]:
        problems.append(f"rows {[row[0] for row in rows]}")
    for name, default, accepted in rows:
        spec = PARAMETERS.get(name)
        if spec is None:
            continue
        if spec.default is not None and default != repr(spec.default):
            problems.append(f"{name}'s default is {default}, not {spec.default!r}")
        kind = "integer" if spec.kind is int else "number"
        if not accepted.startswith(f"{kind} {_readme_range(spec)}"):
            problems.append(f"{name} accepts {accepted!r}, not {kind} {_readme_range(spec)}")
    _drift("README.md's parameter table", problems)


def test_readme_submit_signature():
    shown = ", ".join(f"{name}={spec.default!r}" for name, spec in PARAMETERS.items())
    expected = f"`submit(prompt, *, {shown})`"
    readme = (ROOT / "README.md").read_text()
    assert expected in readme, f"README.md's submit() row drifted: no {expected}"
