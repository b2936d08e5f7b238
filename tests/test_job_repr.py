"""``repr(job)`` says what the job is without its pre-signed video URL: whoever holds
that URL can fetch the video, and a repr ends up in logs, tracebacks and notebooks."""

from __future__ import annotations

from eco_widget import Job, VideoParams

VIDEO_URL = "https://videos.example/v/job_7f3a.mp4?sig=Zm9vYmFyYmF6cXV4&expires=1700086400"


def _completed() -> Job:
    return Job.from_payload(
        {
            "id": "job_7f3a",
            "status": "completed",
            "created": 1_700_000_000,
            "completed_at": 1_700_000_060,
            "model": "wan21-t2v-1-3b",
            "video_url": VIDEO_URL,
            "duration_seconds": 2.0,
            "expires_at": 1_700_086_400,
            "progress": 1.0,
        },
        params=VideoParams.create("a red balloon", seed=4242),
    )


def test_the_repr_and_str_of_a_completed_job_leave_its_video_url_out():
    job = _completed()
    assert job.video_url == VIDEO_URL  # still there to use
    for text in (repr(job), str(job), f"{job}", repr([job])):
        assert VIDEO_URL not in text
        assert "sig=" not in text
        assert "videos.example" not in text


def test_the_repr_still_says_which_job_it_is_and_where_it_stands():
    text = repr(_completed())
    for part in ("job_7f3a", "completed", "progress=1.0", "seed=4242", "a red balloon"):
        assert part in text, part


def test_the_video_url_still_counts_in_equality():
    job = _completed()
    other = Job.from_payload(
        {"id": "job_7f3a", "status": "completed", "video_url": VIDEO_URL + "x"}
    )
    assert job != other
    assert Job(id="job_7f3a", status="completed", video_url=VIDEO_URL) == Job(
        id="job_7f3a", status="completed", video_url=VIDEO_URL
    )
