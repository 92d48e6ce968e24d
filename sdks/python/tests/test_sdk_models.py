"""Results are typed models that also behave as read-only mappings and keep fields they do not know."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from scripted_api import ScriptedAPI, job_json

from infrai import Account, Infrai, VideoJob

FINISHED = job_json(
    state="succeeded",
    progress=100,
    finished_at="2025-01-02T03:05:00Z",
    cost={"estimated_usd": "0.40", "settled_usd": "0.35"},
    video_url="http://api.test/v1/media/vid_123.mp4?sig=abc",
    video={
        "duration_seconds": 5.0,
        "width": 1280,
        "height": 720,
        "size_bytes": 1234,
        "sha256": "ab" * 32,
        "content_type": "video/mp4",
    },
    webhook_url="https://example.test/hook",
)


def test_a_job_reads_as_attributes_and_as_a_mapping() -> None:
    job = VideoJob.model_validate(FINISHED)
    assert job.get("job_id") == job["job_id"] == job.job_id == "vid_123"
    assert job["state"] == "succeeded"
    assert job.get("no_such_field") is None
    assert job.get("no_such_field", "fallback") == "fallback"
    assert "video_url" in job
    assert isinstance(job, Mapping)
    with pytest.raises(KeyError):
        job["no_such_field"]


def test_typed_values_are_parsed() -> None:
    job = VideoJob.model_validate(FINISHED)
    assert job.created_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert job.cost is not None
    assert job.cost.settled_usd == Decimal("0.35")
    assert job.video is not None
    assert job.video["width"] == 1280
    assert job.is_final


def test_fields_the_server_adds_later_are_kept_everywhere() -> None:
    job = VideoJob.model_validate(FINISHED)
    assert job["webhook_url"] == "https://example.test/hook"
    assert job.webhook_url == "https://example.test/hook"  # type: ignore[attr-defined]
    assert dict(job)["webhook_url"] == "https://example.test/hook"
    assert job.to_dict()["webhook_url"] == "https://example.test/hook"


def test_an_extra_field_named_like_a_mapping_method_reads_as_its_value() -> None:
    account = Account.model_validate(
        {"project_id": "proj_1", "balance_usd": "5.00", "keys": [{"key_id": "k1"}], "items": 3}
    )
    assert account["keys"] == [{"key_id": "k1"}] and account["items"] == 3
    assert dict(account)["keys"] == [{"key_id": "k1"}]
    assert list(account.keys()) == list(account)  # the Mapping method itself still works


def test_dict_of_a_job_has_every_field_once() -> None:
    job = VideoJob.model_validate(FINISHED)
    as_dict = dict(job)
    assert list(as_dict) == list(job.keys()) == list(job)
    assert set(as_dict) == set(FINISHED)
    assert len(job) == len(FINISHED)
    assert as_dict["cost"]["settled_usd"] == Decimal("0.35")


def test_to_dict_round_trips_the_servers_json() -> None:
    job = VideoJob.model_validate(FINISHED)
    again = json.loads(json.dumps(job.to_dict()))
    assert again["cost"] == {"estimated_usd": "0.40", "settled_usd": "0.35"}
    assert VideoJob.model_validate(again) == job


def test_the_seed_example_works_on_live_results(client: Infrai, api: ScriptedAPI) -> None:
    api.on("POST", "/v1/video/generate", httpx.Response(202, json=job_json(state="queued")))
    api.on("GET", "/v1/video/jobs/vid_123", httpx.Response(200, json=job_json(state="running")))
    cancelled = {"ok": True, "job_id": "vid_123", "state": "running", "message": "cancelling"}
    api.on("POST", "/v1/video/jobs/vid_123/cancel", httpx.Response(200, json=cancelled))

    job = client.video.generate(
        "a timelapse of a city skyline at dusk", resolution="1080p", prefer="balanced"
    )
    assert (job.get("job_id"), job.get("state")) == ("vid_123", "queued")
    assert client.video.status(id=job["job_id"])["state"] == "running"
    result = client.video.cancel(id=job["job_id"])
    assert result.get("ok") is True
    assert result["message"] == "cancelling"
