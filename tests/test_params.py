"""Parameter validation: the contract's ranges and types, with messages that name the
parameter, the value and what is accepted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eco_widget import MODEL, InvalidParameterError, VideoParams
from eco_widget._params import PARAMETERS, random_seed, validate_body


def body(**fields):
    return {"model": MODEL, "prompt": "a red balloon", **fields}


def test_defaults_are_the_contracts():
    params = validate_body(body())
    assert (params.num_frames, params.fps, params.num_inference_steps, params.guidance_scale) == (
        33,
        16,
        50,
        5.0,
    )
    assert params.seed is None
    assert params.duration_seconds == pytest.approx(2.0625)


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("num_frames", 1, 81),
        ("fps", 1, 60),
        ("num_inference_steps", 20, 80),
        ("guidance_scale", 0.0, 20.0),
        ("seed", 0, 2**32 - 1),
    ],
)
def test_range_edges_are_accepted_and_beyond_them_refused(name, low, high):
    assert getattr(validate_body(body(**{name: low})), name) == low
    assert getattr(validate_body(body(**{name: high})), name) == high
    step = 1 if isinstance(low, int) else 0.5
    for bad in (low - step, high + step):
        with pytest.raises(InvalidParameterError) as info:
            validate_body(body(**{name: bad}))
        error = info.value
        assert error.param == name
        assert error.value == bad
        shown = str if isinstance(low, int) else "{:g}".format
        assert f"from {shown(low)} to {shown(high)}" in str(error)
        assert str(bad) in str(error)


@pytest.mark.parametrize("name", ["num_frames", "fps", "num_inference_steps", "seed"])
@pytest.mark.parametrize("bad", [True, False, 10.0, "10", [10]])
def test_integers_are_integers(name, bad):
    with pytest.raises(InvalidParameterError, match=f"^{name} must be an integer") as info:
        validate_body(body(**{name: bad}))
    assert info.value.param == name


@pytest.mark.parametrize("bad", [True, "5", float("nan"), float("inf")])
def test_guidance_is_a_finite_number(bad):
    with pytest.raises(InvalidParameterError) as info:
        validate_body(body(guidance_scale=bad))
    assert info.value.param == "guidance_scale"


def test_integer_guidance_is_a_number():
    assert validate_body(body(guidance_scale=7)).guidance_scale == 7.0


@pytest.mark.parametrize(
    ("prompt", "fragment"),
    [("", "empty"), ("   \n\t", "empty"), ("x" * 2001, "2001 characters"), (5, "got int")],
)
def test_prompt_rules(prompt, fragment):
    with pytest.raises(InvalidParameterError, match=fragment) as info:
        validate_body(body(prompt=prompt))
    assert info.value.param == "prompt"


def test_prompt_length_counts_after_stripping():
    assert validate_body(body(prompt="  " + "x" * 2000 + "\n")).prompt.strip() == "x" * 2000


def test_unknown_missing_and_wrong_fields():
    with pytest.raises(InvalidParameterError, match="Unknown parameter 'width'") as info:
        validate_body(body(width=832))
    assert info.value.param == "width"
    with pytest.raises(InvalidParameterError, match="Missing required parameter 'prompt'"):
        validate_body({"model": MODEL})
    with pytest.raises(InvalidParameterError, match='model must be "wan21-t2v-1-3b"'):
        validate_body(body(model="sora"))
    with pytest.raises(InvalidParameterError, match="JSON object"):
        validate_body(["not", "an", "object"])


def test_create_validates_keyword_arguments_like_the_server():
    with pytest.raises(InvalidParameterError) as info:
        VideoParams.create("x", num_frames=82)
    assert info.value.param == "num_frames"
    assert isinstance(info.value, ValueError)
    assert str(info.value) == "num_frames must be an integer from 1 to 81; got 82."


def test_a_seed_is_drawn_only_when_missing():
    assert VideoParams.create("x", seed=5).with_seed().seed == 5
    drawn = {VideoParams.create("x").with_seed().seed for _ in range(20)}
    assert len(drawn) > 1
    assert all(0 <= seed <= 2**32 - 1 for seed in drawn)


def test_to_body_round_trips():
    params = VideoParams.create("x", num_frames=9, fps=3, guidance_scale=2, seed=1)
    assert validate_body(params.to_body()) == params
    assert "seed" not in VideoParams.create("x").to_body()


@given(st.integers(min_value=-(2**40), max_value=2**40))
def test_num_frames_accepts_exactly_the_range(value):
    spec = PARAMETERS["num_frames"]
    if 1 <= value <= 81:
        assert spec.check(value) == value
    else:
        with pytest.raises(InvalidParameterError):
            spec.check(value)


def test_random_seed_in_range():
    assert 0 <= random_seed() <= 2**32 - 1
