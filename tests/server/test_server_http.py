"""HTTP-level behaviour: JSON errors everywhere, request ids, the OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from eco_widget._params import MODEL, PARAMETERS


def test_unknown_routes_and_methods_get_json_errors(shared_api):
    missing = shared_api.client.get("/v2/anything")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    assert "GET /v2/anything" in missing.json()["error"]["message"]

    wrong = shared_api.client.delete("/v1/video/generations/vid_0", headers=shared_api.headers())
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD"
    error = wrong.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"] == (
        "Method DELETE is not allowed on /v1/video/generations/vid_0; allowed: GET, HEAD."
    )
    assert shared_api.client.get("/v1/video/generations").status_code == 405


def test_every_response_has_its_own_request_id(shared_api):
    responses = [
        shared_api.client.get("/openapi.json"),
        shared_api.client.get("/nope"),
        shared_api.client.get("/v1/video/generations/vid_0"),
        shared_api.submit(),
        shared_api.client.post("/v1/video/generations", content=b"{", headers=shared_api.headers()),
    ]
    ids = [response.headers["x-request-id"] for response in responses]
    assert all(re.fullmatch(r"req_[0-9a-f]{24}", value) for value in ids)
    assert len(set(ids)) == len(ids)


def test_an_unexpected_error_is_a_json_500_and_the_server_goes_on(api, monkeypatch):
    def broken(job_id: str) -> None:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(api.server.app.state.store, "get", broken)
    response = api.get("vid_0")
    assert response.status_code == 500
    assert response.headers["x-request-id"].startswith("req_")
    error = response.json()["error"]
    assert error["type"] == "server_error"
    assert "fire" not in error["message"]  # internals stay in the log
    monkeypatch.undo()
    assert api.get("vid_0").status_code == 404


@pytest.fixture(scope="module")
def document(shared_api) -> dict[str, Any]:
    response = shared_api.client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return response.json()


def _resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_the_openapi_document_describes_the_api(document, shared_api):
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": shared_api.url}]
    paths = document["paths"]
    assert set(paths) == {
        "/v1/video/generations",
        "/v1/video/generations/{id}",
        "/v1/videos/{id}.mp4",
        "/_sandbox/stats",
    }
    assert set(paths["/v1/video/generations"]["post"]["responses"]) >= {
        "200",
        "400",
        "401",
        "413",
        "429",
    }
    assert set(paths["/v1/videos/{id}.mp4"]["get"]["responses"]) >= {
        "200",
        "206",
        "403",
        "410",
        "416",
    }
    for ref in _refs(document):
        assert _resolve(document, ref), ref


def test_the_request_schema_matches_the_validation(document):
    schema = document["components"]["schemas"]["VideoRequest"]
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["model", "prompt"]
    properties = schema["properties"]
    assert properties["model"]["enum"] == [MODEL]
    assert properties["prompt"]["maxLength"] == 2000
    for name, spec in PARAMETERS.items():
        assert properties[name]["minimum"] == spec.minimum
        assert properties[name]["maximum"] == spec.maximum
    assert properties["num_frames"]["type"] == "integer"
    assert properties["guidance_scale"]["type"] == "number"


def _check_job(document: dict[str, Any], job: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["Job"]
    assert set(schema["required"]) <= set(job)
    assert set(job) <= set(schema["properties"])
    assert job["status"] in schema["properties"]["status"]["enum"]
    assert re.fullmatch(schema["properties"]["id"]["pattern"], job["id"])


def test_job_objects_follow_the_documented_schema(document, start_api, fake_renderer):
    api = start_api(renderer=fake_renderer(fail="broken"))
    queued = api.submit().json()
    _check_job(document, queued)
    _check_job(document, api.completed(queued["id"]))
    failed = api.completed(api.submit(prompt="broken").json()["id"])
    assert failed["status"] == "failed"
    _check_job(document, failed)


def test_error_bodies_follow_the_documented_schema(document, shared_api):
    schema = document["components"]["schemas"]["Error"]["properties"]["error"]
    for response in (
        shared_api.client.post(
            "/v1/video/generations", json={"model": 1}, headers=shared_api.headers()
        ),
        shared_api.client.get("/v1/video/generations/x"),
        httpx.get(f"{shared_api.url}/v1/videos/vid_0.mp4"),
    ):
        error = response.json()["error"]
        assert set(schema["required"]) <= set(error) <= set(schema["properties"])
