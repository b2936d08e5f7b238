"""The pre-signed video URL: signature, expiry, Range requests."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from eco_widget.server._signing import UrlSigner, load_or_create_secret


@pytest.fixture(scope="module")
def video(shared_api) -> tuple[str, bytes]:
    """A completed job's video URL and its bytes."""
    job = shared_api.submit(prompt="a video to slice", num_frames=41).json()
    url = shared_api.completed(job["id"])["video_url"]
    data = httpx.get(url).content
    assert len(data) > 1000
    return url, data


def _replace_query(url: str, **query: str | None) -> str:
    parts = urlsplit(url)
    current = {key: values[0] for key, values in parse_qs(parts.query).items()}
    current.update(query)
    kept = {key: value for key, value in current.items() if value is not None}
    return parts._replace(query=urlencode(kept)).geturl()


def test_the_video_is_served_without_authentication(video):
    url, data = video
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert int(response.headers["content-length"]) == len(data)
    assert response.headers["x-request-id"].startswith("req_")
    assert data[4:8] == b"ftyp"


def test_head_gives_the_headers_only(video):
    url, data = video
    response = httpx.head(url)
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(data)
    assert response.content == b""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"signature": "0" * 64}, "signature is not valid"),
        ({"signature": None}, "not signed"),
        ({"expires": None}, "signature is not valid"),
        ({"expires": "99999999999"}, "signature is not valid"),  # a later expiry
        ({"expires": "0"}, "signature is not valid"),
        ({"expires": "-5"}, "signature is not valid"),
        ({"expires": "soon"}, "signature is not valid"),
    ],
)
def test_a_tampered_url_is_403(video, change, message):
    url, _ = video
    response = httpx.get(_replace_query(url, **change))
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["type"] == "permission_error"
    assert message in error["message"]


def test_a_flipped_signature_character_is_403(video):
    url, _ = video
    signature = parse_qs(urlsplit(url).query)["signature"][0]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert httpx.get(_replace_query(url, signature=flipped)).status_code == 403


def test_a_signature_does_not_carry_over_to_another_job(shared_api, video):
    url, _ = video
    other = shared_api.submit(prompt="another").json()
    shared_api.completed(other["id"])
    stolen = re.sub(r"vid_[0-9a-f]{24}", other["id"], url)
    assert httpx.get(stolen).status_code == 403


def test_a_validly_signed_url_for_no_video_is_404(shared_api):
    signer = UrlSigner(load_or_create_secret(shared_api.server.config.data_dir / "secret.key"))
    job_id = "vid_" + "a" * 24
    url = f"{shared_api.url}/v1/videos/{job_id}.mp4?{signer.query(job_id, 2**40)}"
    response = httpx.get(url)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_the_url_expires(start_api):
    api = start_api(url_ttl=1.0)
    done = api.completed(api.submit().json()["id"])
    expires = int(parse_qs(urlsplit(done["video_url"]).query)["expires"][0])
    assert done["expires_at"] == expires
    assert expires >= done["completed_at"] + 1
    # Waiting is the point here: poll until the server says the URL has expired.
    gone: list[httpx.Response] = []
    api.wait_until(lambda: gone.append(httpx.get(done["video_url"])) or gone[-1].status_code != 200)
    response = gone[-1]
    assert response.status_code == 410
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "expired at " in error["message"]
    assert f"(expires={expires})" in error["message"]
    assert "valid for 1 s after the job completes" in error["message"]
    # The job still says completed, with the same (expired) URL.
    assert api.get(done["id"]).json()["video_url"] == done["video_url"]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 100),
        ("bytes=100-199", 100, 200),
        ("bytes=0-0", 0, 1),
        ("bytes=500-", 500, None),
        ("bytes=-100", -100, None),
        ("bytes=0-", 0, None),
        ("bytes=10-999999999", 10, None),
        ("bytes=-999999999", 0, None),
        ("BYTES = 5 - 9", 5, 10),
    ],
)
def test_a_single_range_is_a_206(video, header, start, end):
    url, data = video
    response = httpx.get(url, headers={"Range": header})
    assert response.status_code == 206
    expected = data[start:end]
    assert response.content == expected
    first = start if start >= 0 else len(data) + start
    assert response.headers["content-range"] == (
        f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    )
    assert int(response.headers["content-length"]) == len(expected)
    assert response.headers["content-type"] == "video/mp4"


@pytest.mark.parametrize(
    "header",
    [
        "bytes={size}-",
        "bytes={size}-{size}",
        "bytes=-0",
        "bytes=9-3",
        "bytes=",
        "bytes=abc",
        "bytes=1-2-3",
    ],
)
def test_an_unsatisfiable_range_is_a_416(video, header):
    url, data = video
    response = httpx.get(url, headers={"Range": header.format(size=len(data))})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(data)}"
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert f"the video has {len(data)} bytes" in response.json()["error"]["message"]


@pytest.mark.parametrize("header", ["items=0-5", "bytes=0-5,10-20"])
def test_a_range_the_server_does_not_serve_gets_the_whole_file(video, header):
    url, data = video
    response = httpx.get(url, headers={"Range": header})
    assert response.status_code == 200
    assert response.content == data
