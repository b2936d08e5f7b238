"""Every validation rule of the submit, with the exact message the client would raise."""

from __future__ import annotations

from typing import Any

import pytest

from eco_widget._exceptions import InvalidParameterError
from eco_widget._params import validate_body

M = "wan21-t2v-1-3b"
OK = {"model": M, "prompt": "a fox in the snow"}


def _with(**fields: Any) -> dict[str, Any]:
    return {**OK, **fields}


def _without(name: str) -> dict[str, Any]:
    return {key: value for key, value in OK.items() if key != name}


# (body, param, a piece of the message that must be there)
REJECTED = [
    pytest.param(_without("model"), "model", "Missing required parameter 'model'.", id="no-model"),
    pytest.param(
        _without("prompt"), "prompt", "Missing required parameter 'prompt'.", id="no-prompt"
    ),
    pytest.param(
        _with(model="wan21-t2v-14b"), "model", 'model must be "wan21-t2v-1-3b"', id="model"
    ),
    pytest.param(_with(model=None), "model", 'model must be "wan21-t2v-1-3b"', id="model-null"),
    pytest.param(_with(prompt=""), "prompt", "prompt is empty", id="prompt-empty"),
    pytest.param(_with(prompt=" \n\t "), "prompt", "prompt is empty", id="prompt-blank"),
    pytest.param(
        _with(prompt="a" * 2001), "prompt", "prompt has 2001 characters", id="prompt-long"
    ),
    pytest.param(
        _with(prompt=" " + "a" * 2001), "prompt", "has 2001 characters", id="prompt-long2"
    ),
    pytest.param(_with(prompt=5), "prompt", "prompt must be a text", id="prompt-int"),
    pytest.param(_with(prompt=None), "prompt", "prompt must be a text", id="prompt-null"),
    pytest.param(_with(width=832), "width", "Unknown parameter 'width'", id="unknown"),
    pytest.param(_with(Prompt="x"), "Prompt", "Unknown parameter 'Prompt'", id="unknown-case"),
    pytest.param(_with(num_frames=True), "num_frames", "which is a boolean", id="bool-int"),
    pytest.param(_with(fps=False), "fps", "which is a boolean", id="bool-fps"),
    pytest.param(_with(guidance_scale=True), "guidance_scale", "boolean", id="bool-float"),
    pytest.param(_with(num_frames=33.0), "num_frames", "of type float", id="float-int"),
    pytest.param(_with(seed=1.5), "seed", "of type float", id="float-seed"),
    pytest.param(_with(num_inference_steps="50"), "num_inference_steps", "of type str", id="str"),
    pytest.param(_with(guidance_scale="5"), "guidance_scale", "of type str", id="str-float"),
    pytest.param(_with(num_frames=None), "num_frames", "got None", id="null-int"),
    pytest.param(_with(fps=[16]), "fps", "of type list", id="list"),
    pytest.param(_with(num_frames=0), "num_frames", "from 1 to 81; got 0.", id="frames-low"),
    pytest.param(_with(num_frames=82), "num_frames", "from 1 to 81; got 82.", id="frames-high"),
    pytest.param(_with(fps=0), "fps", "from 1 to 60; got 0.", id="fps-low"),
    pytest.param(_with(fps=61), "fps", "from 1 to 60; got 61.", id="fps-high"),
    pytest.param(_with(num_inference_steps=19), "num_inference_steps", "20 to 80", id="steps-low"),
    pytest.param(_with(num_inference_steps=81), "num_inference_steps", "20 to 80", id="steps-high"),
    pytest.param(_with(guidance_scale=-0.1), "guidance_scale", "from 0 to 20", id="cfg-low"),
    pytest.param(_with(guidance_scale=20.01), "guidance_scale", "from 0 to 20", id="cfg-high"),
    pytest.param(_with(seed=-1), "seed", "got -1.", id="seed-low"),
    pytest.param(_with(seed=2**32), "seed", "got 4294967296.", id="seed-high"),
    pytest.param(_with(num_frames=10**30), "num_frames", "from 1 to 81", id="huge-int"),
]


@pytest.mark.parametrize(("body", "param", "fragment"), REJECTED)
def test_each_rule_is_a_400_with_the_clients_own_message(shared_api, body, param, fragment):
    response = shared_api.client.post(
        "/v1/video/generations", json=body, headers=shared_api.headers()
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert fragment in error["message"]
    with pytest.raises(InvalidParameterError) as raised:
        validate_body(body)
    assert error["message"] == raised.value.message


ACCEPTED = [
    pytest.param({"num_frames": 1, "fps": 1}, id="min-frames-fps"),
    pytest.param({"num_frames": 81, "fps": 60}, id="max-frames-fps"),
    pytest.param({"num_inference_steps": 20}, id="min-steps"),
    pytest.param({"num_inference_steps": 80}, id="max-steps"),
    pytest.param({"guidance_scale": 0}, id="min-cfg-int"),
    pytest.param({"guidance_scale": 20.0}, id="max-cfg"),
    pytest.param({"seed": 0}, id="min-seed"),
    pytest.param({"seed": 2**32 - 1}, id="max-seed"),
    pytest.param({"seed": None}, id="null-seed"),
    pytest.param({"prompt": "x"}, id="one-char"),
    pytest.param({"prompt": "  " + "é" * 2000 + "\n"}, id="2000-chars-padded"),
]


@pytest.mark.parametrize("fields", ACCEPTED)
def test_inclusive_edges_are_accepted_and_echoed(shared_api, fields):
    response = shared_api.submit(**fields)
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["status"] == "queued"
    for name, value in fields.items():
        if value is not None:
            assert job[name] == value
    assert isinstance(job["seed"], int)
    assert 0 <= job["seed"] <= 2**32 - 1


def test_defaults_are_filled_in_and_echoed(shared_api):
    job = shared_api.submit().json()
    assert job["object"] == "video.job"
    assert job["model"] == M
    assert job["id"].startswith("vid_")
    assert len(job["id"]) == 4 + 24
    assert isinstance(job["created"], int)
    assert (job["num_frames"], job["fps"], job["num_inference_steps"]) == (33, 16, 50)
    assert job["guidance_scale"] == 5.0
    assert isinstance(job["guidance_scale"], float)


@pytest.mark.parametrize(
    "content",
    [b"{", b"not json", b'{"model": "x",}', b"\xff\xfe\x00", b'{"prompt": NaN}', b"[" * 5000],
)
def test_bad_json_is_a_400(shared_api, content):
    response = shared_api.client.post(
        "/v1/video/generations",
        content=content,
        headers={**shared_api.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("The request body is not valid JSON")
    assert "param" not in error


def test_an_empty_body_is_a_400(shared_api):
    response = shared_api.client.post(
        "/v1/video/generations", content=b"", headers=shared_api.headers()
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("The request body is empty")


@pytest.mark.parametrize("content", [b"[]", b'"text"', b"3", b"null"])
def test_a_body_that_is_not_an_object_is_a_400(shared_api, content):
    response = shared_api.client.post(
        "/v1/video/generations", content=content, headers=shared_api.headers()
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The request body must be a JSON object."


def test_a_body_over_64_kib_is_a_413_before_reading(shared_api):
    body = b'{"model": "' + b"x" * 65536 + b'"}'
    response = shared_api.client.post(
        "/v1/video/generations", content=body, headers=shared_api.headers()
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert f"{len(body)} bytes" in error["message"]
    assert "65536 bytes (64 KiB)" in error["message"]
    # The connection is still usable.
    assert shared_api.submit().status_code == 200


def test_a_chunked_body_is_capped_while_reading(shared_api):
    def chunks():
        for _ in range(100):
            yield b"x" * 1024

    response = shared_api.client.post(
        "/v1/video/generations", content=chunks(), headers=shared_api.headers()
    )
    assert response.status_code == 413
    assert "over the limit" in response.json()["error"]["message"]


def test_exactly_64_kib_is_accepted(shared_api):
    head = b'{"model": "wan21-t2v-1-3b", "prompt": "a fox"}'
    body = head + b" " * (65536 - len(head))
    response = shared_api.client.post(
        "/v1/video/generations", content=body, headers=shared_api.headers()
    )
    assert response.status_code == 200, response.text
