"""Every public error survives pickle (a multiprocessing worker's error reaches its
parent) and copy: same type, same message, same attributes. The classes are found in
``eco_widget.__all__``, so a new error is covered as soon as it is exported."""

from __future__ import annotations

import copy
import inspect
import pickle
from pathlib import Path
from typing import Any

import pytest

import eco_widget
from eco_widget import Job, JobError, VideoParams

FAILED_JOB = Job(
    id="job_7f3a",
    status="failed",
    created=1_700_000_000.0,
    error=JobError(type="render_error", message="the renderer ran out of memory"),
    params=VideoParams.create("a red balloon", seed=42),
)

#: A value for each constructor argument an error may take, by name. Optional
#: arguments get one too, so that every attribute is set to something non-default.
SAMPLES: dict[str, Any] = {
    "args": ("the server could not be reached",),
    "message": "the server said no",
    "job": FAILED_JOB,
    "timeout": 12.5,
    "param": "fps",
    "value": 99,
    "accepted": "an integer from 4 to 30",
    "status_code": 429,
    "type": "rate_limit_exceeded",
    "request_id": "req_0042",
    "retry_after": 3.5,
    "may_have_reached_server": False,
    "path": Path("videos") / "balloon.mp4",
    "job_id": "job_7f3a",
    "size": 5_000_000,
    "limit": 1_000_000,
}


def _exported_errors() -> list[type[BaseException]]:
    classes = (getattr(eco_widget, name) for name in eco_widget.__all__)
    return [cls for cls in classes if isinstance(cls, type) and issubclass(cls, BaseException)]


def _instance(cls: type[BaseException]) -> BaseException:
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for parameter in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if parameter.kind is parameter.VAR_KEYWORD:
            continue
        if parameter.name not in SAMPLES:
            assert parameter.default is not parameter.empty, (
                f"{cls.__name__}({parameter.name}=...): add a sample value to SAMPLES"
            )
            continue
        sample = SAMPLES[parameter.name]
        if parameter.kind is parameter.VAR_POSITIONAL:
            positional.extend(sample)
        elif parameter.kind is parameter.KEYWORD_ONLY:
            keywords[parameter.name] = sample
        else:
            positional.append(sample)
    if "retry_after" in inspect.signature(cls.__init__).parameters:
        # RateLimitError passes the APIError fields on through **kwargs.
        keywords.update(status_code=429, type="rate_limit_exceeded", request_id="req_0042")
    return cls(*positional, **keywords)


def _public_attributes(error: BaseException) -> dict[str, Any]:
    return {name: value for name, value in vars(error).items() if not name.startswith("_")}


ERRORS = _exported_errors()


def test_every_error_class_is_found():
    names = {cls.__name__ for cls in ERRORS}
    assert {"EcoVideoError", "JobFailedError", "RateLimitError", "VideoNotSavedError"} <= names
    assert all(issubclass(cls, eco_widget.EcoVideoError) for cls in ERRORS)


@pytest.mark.parametrize(
    "roundtrip",
    [
        pytest.param(lambda error: pickle.loads(pickle.dumps(error)), id="pickle"),
        pytest.param(
            lambda error: pickle.loads(pickle.dumps(error, protocol=0)), id="pickle-protocol-0"
        ),
        pytest.param(copy.copy, id="copy"),
        pytest.param(copy.deepcopy, id="deepcopy"),
    ],
)
@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_an_error_keeps_its_type_message_and_attributes(cls, roundtrip):
    error = _instance(cls)
    attributes = _public_attributes(error)

    again = roundtrip(error)

    assert type(again) is cls
    assert str(again) == str(error)
    assert again.args == error.args
    assert _public_attributes(again) == attributes
    for name, value in attributes.items():
        assert getattr(again, name) == value, name


def test_the_attributes_named_in_the_docs_travel():
    failed = pickle.loads(pickle.dumps(eco_widget.JobFailedError(FAILED_JOB)))
    assert failed.job == FAILED_JOB
    assert "ran out of memory" in str(failed)

    timed_out = pickle.loads(pickle.dumps(eco_widget.JobTimeoutError(FAILED_JOB, 12.5)))
    assert (timed_out.job, timed_out.timeout) == (FAILED_JOB, 12.5)

    limited = pickle.loads(
        pickle.dumps(eco_widget.RateLimitError("busy", retry_after=3.5, status_code=429))
    )
    assert (limited.retry_after, limited.status_code, limited.message) == (3.5, 429, "busy")

    invalid = pickle.loads(
        pickle.dumps(eco_widget.InvalidParameterError("fps", 99, "an integer from 4 to 30"))
    )
    assert (invalid.param, invalid.accepted) == ("fps", "an integer from 4 to 30")
    assert invalid.value == 99
    assert isinstance(invalid, ValueError)

    not_saved = pickle.loads(
        pickle.dumps(eco_widget.VideoNotSavedError("disk full", job_id="job_7f3a", path=Path("v")))
    )
    assert (not_saved.job_id, not_saved.path) == ("job_7f3a", Path("v"))

    slot = pickle.loads(pickle.dumps(eco_widget.SlotTimeoutError("no free slot within 5 s")))
    assert str(slot) == "no free slot within 5 s"
    assert isinstance(slot, TimeoutError)


def test_an_unpickled_error_can_be_raised_and_caught_as_its_base():
    again = pickle.loads(pickle.dumps(eco_widget.NotFoundError("no such job", status_code=404)))
    with pytest.raises(eco_widget.APIError, match="404 no such job"):
        raise again
