"""``GET /v1/video/models``: the catalog, with whether each model can be used here and, if not, why.

Public and read-only: it shows what the deployment could route to and what an operator must set to enable
the rest. Prices carry their source and date so a client can judge them; each model's lifecycle (deprecated
and retirement dates, successor, aliases) and its measured vendor times per resolution and duration (p50/p90
over recent jobs, with how many) say what to expect of it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from accounts.vendor_timings import Bucket, BucketTimes
from api.deps import CatalogDep, EtasDep, SettingsDep
from vendors.catalog import Catalog, ModelEntry, ModelLifecycle, VendorEntry, today_utc
from vendors.registry import configured_vendors, missing_configuration

router = APIRouter(prefix="/v1/video", tags=["models"])


class ModelPrice(BaseModel):
    resolution: str
    usd_per_second: Decimal
    source: str
    as_of: date
    confirmed: bool


class MeasuredLatency(BaseModel):
    """Measured vendor time (accepted → finished) of recent jobs at one resolution and duration."""

    resolution: str
    duration_seconds: int
    samples: int = Field(description="How many recent jobs the percentiles are computed over.")
    p50_seconds: float
    p90_seconds: float
    used_for_eta: bool = Field(description="Enough samples that running jobs' ETAs come from these.")


class VideoModel(BaseModel):
    id: str  # "vendor/model", the pair a route names
    vendor: str
    vendor_name: str
    model: str  # pass as ``model`` (with ``vendor``) to pin a request to it
    name: str
    available: bool
    unavailable_reason: str | None = None  # e.g. "set RUNWAYML_API_SECRET"
    routing: Literal["automatic", "fallback_only"]
    resolutions: list[str]
    aspects: list[str]
    durations_seconds: list[int]
    durations_by_resolution: dict[str, list[int]]
    text_input: bool
    image_input: bool
    prices: list[ModelPrice]
    quality: int
    quality_source: str
    typical_latency_seconds: int
    measured_latency: list[MeasuredLatency]
    lifecycle: ModelLifecycle = Field(description="`retired` models take no new jobs (410 model_retired).")
    deprecated_on: date | None = None
    retired_on: date | None = None
    successor: str | None = Field(None, description="The model to move to (a `model` of the same vendor).")
    aliases: list[str] = Field(description="Other names that select this model as `model`.")
    notes: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    catalog_updated: date
    data: list[VideoModel]


@router.get("/models", response_model=ModelList, summary="List video models and whether they are available")
async def list_models(settings: SettingsDep, catalog: CatalogDep, etas: EtasDep) -> ModelList:
    configured = configured_vendors(settings)
    today = settings.model_lifecycle_date or today_utc()
    measured = _measured_by_model(await etas.bucket_times(), settings.eta_min_samples)
    return ModelList(
        catalog_updated=catalog.updated,
        data=[
            VideoModel(
                **_present(vendor, model, vendor.id in configured, catalog),
                **_lifecycle(model, today, measured.get((vendor.id, model.id), [])),
            )
            for vendor, model in catalog.pairs()
        ],
    )


def _measured_by_model(
    table: dict[Bucket, BucketTimes], min_samples: int
) -> dict[tuple[str, str], list[MeasuredLatency]]:
    measured: dict[tuple[str, str], list[MeasuredLatency]] = {}
    for bucket in sorted(table, key=lambda b: (b.vendor, b.model, b.resolution, b.duration_seconds)):
        times = table[bucket]
        measured.setdefault((bucket.vendor, bucket.model), []).append(
            MeasuredLatency(
                resolution=bucket.resolution,
                duration_seconds=bucket.duration_seconds,
                samples=times.samples,
                p50_seconds=times.p50_seconds,
                p90_seconds=times.p90_seconds,
                used_for_eta=times.samples >= min_samples,
            )
        )
    return measured


def _lifecycle(model: ModelEntry, today: date, measured: list[MeasuredLatency]) -> dict[str, Any]:
    return {
        "measured_latency": measured,
        "lifecycle": model.lifecycle(today),
        "deprecated_on": model.deprecated_on,
        "retired_on": model.retired_on,
        "successor": model.successor,
        "aliases": list(model.aliases),
    }


def _present(vendor: VendorEntry, model: ModelEntry, available: bool, catalog: Catalog) -> dict[str, Any]:
    """The model's catalog facts (``list_models`` adds what depends on the day and on measurements)."""
    return dict(
        id=f"{vendor.id}/{model.id}",
        vendor=vendor.id,
        vendor_name=vendor.name,
        model=model.id,
        name=model.name,
        available=available,
        unavailable_reason=None if available else missing_configuration(vendor.id, catalog),
        routing="fallback_only" if vendor.fallback_only else "automatic",
        resolutions=[r.value for r in model.resolutions],
        aspects=[a.value for a in model.aspects],
        durations_seconds=list(model.durations),
        durations_by_resolution={r.value: list(model.allowed_durations(r)) for r in model.resolutions},
        text_input=model.text_input,
        image_input=model.image_input,
        prices=[
            ModelPrice(resolution=resolution.value, **price.model_dump())
            for resolution, price in model.prices.items()
        ],
        quality=model.quality,
        quality_source=model.quality_source,
        typical_latency_seconds=model.typical_latency_seconds,
        notes=" ".join(part for part in (vendor.notes, model.notes) if part),
    )
