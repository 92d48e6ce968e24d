"""Turn the workflow's ``JobSnapshot`` into the public ``VideoJob``, minting fresh media URLs."""

from __future__ import annotations

from api.media_links import MediaLinks
from api.schemas import JobCostOut, JobWarning, VideoJob, VideoMeta, money
from core.models import JobSnapshot, JobState
from jobs.etas import JobEta


def present_job(
    snapshot: JobSnapshot,
    links: MediaLinks,
    eta: JobEta | None = None,
    warnings: list[JobWarning] | None = None,
) -> VideoJob:
    media = snapshot.media if snapshot.state is JobState.SUCCEEDED else None
    return VideoJob(
        **snapshot.shown_fields(),
        cost=JobCostOut(
            estimated_usd=money(snapshot.cost.estimated_usd) or "0.00",
            settled_usd=money(snapshot.cost.settled_usd),
        ),
        video_url=links.url(media.video_key) if media else None,
        thumbnail_url=links.url(media.thumbnail_key) if media and media.thumbnail_key else None,
        video=VideoMeta.model_validate(media.model_dump()) if media else None,
        deadline_at=snapshot.deadline_at,
        eta_seconds=eta.eta_seconds if eta else None,
        expected_finish_at=eta.expected_finish_at if eta else None,
        eta_source=eta.eta_source if eta else None,
        queue_position=eta.queue_position if eta else None,
        warnings=warnings or [],
    )
