"""Authentication, job isolation between keys, and keys never leaking."""

from __future__ import annotations

import threading

import httpx
import pytest

MODEL = "wan21-t2v-1-3b"
BODY = {"model": MODEL, "prompt": "a lighthouse in a storm"}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {},
            "Missing API key: send it in the Authorization header, as "
            "`Authorization: Bearer <key>`.",
        ),
        ({"Authorization": ""}, "Missing API key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Malformed Authorization header"),
        ({"Authorization": "Bearer"}, "Malformed Authorization header"),
        ({"Authorization": "Bearer eco_not_a_key"}, "Invalid API key."),
    ],
)
@pytest.mark.parametrize("route", ["submit", "get", "stats"])
def test_requests_without_a_valid_key_get_401(shared_api, headers, message, route):
    api = shared_api
    if route == "submit":
        response = api.client.post("/v1/video/generations", json=BODY, headers=headers)
    elif route == "get":
        response = api.client.get("/v1/video/generations/vid_0", headers=headers)
    else:
        response = api.client.get("/_sandbox/stats", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["type"] == "authentication_error"
    assert error["message"].startswith(message)
    assert "eco_not_a_key" not in response.text
    assert "param" not in error


def test_the_scheme_is_case_insensitive(shared_api):
    api = shared_api
    response = api.client.post(
        "/v1/video/generations", json=BODY, headers={"Authorization": f"bearer {api.key}"}
    )
    assert response.status_code == 200


def test_401_comes_before_validation_and_creates_nothing(api):
    response = api.client.post(
        "/v1/video/generations", json={"bad": 1}, headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401
    assert api.stats()["jobs"] == {"queued": 0, "processing": 0, "completed": 0, "failed": 0}


def test_another_keys_job_is_indistinguishable_from_a_missing_one(api):
    job = api.submit().json()
    api.completed(job["id"])

    theirs = api.get(job["id"], key=api.other_key)
    unknown = api.get("vid_" + "0" * 24, key=api.other_key)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["error"]["type"] == "not_found_error"
    # Same body but for the id the caller sent.
    assert theirs.text.replace(job["id"], "ID") == unknown.text.replace("vid_" + "0" * 24, "ID")
    assert set(theirs.headers) == set(unknown.headers)
    # The owner still sees it.
    assert api.get(job["id"]).status_code == 200


def test_stats_are_per_key(api):
    job = api.submit().json()
    api.completed(job["id"])
    api.submit(key=api.other_key)
    mine = api.client.get("/_sandbox/stats", headers=api.headers()).json()
    assert mine["object"] == "sandbox.stats"
    assert mine["requests"]["posts"] == 1
    assert mine["requests"]["job_gets"] >= 1
    assert mine["jobs"]["completed"] == 1
    theirs = api.client.get("/_sandbox/stats", headers=api.headers(api.other_key)).json()
    assert theirs["requests"]["posts"] == 1
    assert theirs["requests"]["job_gets"] == 0


def test_the_key_never_appears_in_responses_or_on_disk(start_api, fake_renderer, data_dir):
    gate = threading.Event()
    api = start_api(renderer=fake_renderer(gate=gate))
    seen: list[httpx.Response] = []
    job = api.submit(prompt="a key-free prompt").json()
    gate.set()
    done = api.completed(job["id"])
    gate.clear()
    seen.append(api.get(job["id"]))
    seen.append(httpx.get(done["video_url"]))
    seen.append(api.client.get("/_sandbox/stats", headers=api.headers()))
    seen.append(api.client.post("/v1/video/generations", json={}, headers=api.headers()))
    seen.append(api.client.get("/v1/video/generations/nope", headers=api.headers()))
    seen.append(api.client.get("/nowhere", headers=api.headers()))
    seen.append(api.client.get("/openapi.json", headers=api.headers()))
    for _ in range(6):
        seen.append(api.submit())
    assert seen[-1].status_code == 429
    seen.append(api.client.post("/v1/video/generations", content=b"{", headers=api.headers()))
    gate.set()
    for response in seen:
        blob = response.content + repr(response.headers.multi_items()).encode()
        assert api.key.encode() not in blob, response.request.url
    api.server.stop()  # checkpoint the WAL into the database file
    files = [path for path in data_dir.rglob("*") if path.is_file()]
    assert any(path.name == "jobs.sqlite3" for path in files)
    for path in files:
        assert api.key.encode() not in path.read_bytes(), path
        assert api.other_key.encode() not in path.read_bytes(), path
    assert api.key not in repr(api.server.config)
