"""The priced catalog of vendors and models, loaded from ``vendors/catalog.toml``.

The TOML file is the single place where capabilities, prices (with their source and date), quality scores and
wire-level model ids live; the router filters and ranks with it, the adapters read wire ids from it and
``GET /v1/video/models`` lists it. Loading validates every entry so a typo fails at start-up, not mid-job.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.models import Aspect, Resolution

CATALOG_PATH = Path(__file__).with_name("catalog.toml")

DurationFormat = Literal["int", "string", "seconds_suffix"]
ModelLifecycle = Literal["active", "deprecated", "retired"]

# The prompt limit of a model whose vendor documents none we could read: Runway's documented 1000, the
# lowest of any vendor we know, so an undocumented limit is never assumed to be roomier than that.
DEFAULT_MAX_PROMPT_CHARS = 1000


def prompt_length(prompt: str) -> int:
    """A prompt's length as vendors count it: UTF-16 code units (Runway's unit). Never less than the
    number of characters (characters outside the BMP, emoji, count twice), so it errs on the safe side
    for vendors that count characters."""
    return len(prompt.encode("utf-16-le")) // 2


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Price(_Frozen):
    """One price figure: USD per output second at one resolution, and where it came from."""

    usd_per_second: Decimal = Field(ge=0)
    source: str
    as_of: date
    confirmed: bool = False  # True only when read on the vendor's own pricing page or SDK


class ModelEntry(_Frozen):
    """One model of one vendor: what it can render, what it costs, how good and how fast it is."""

    id: str  # what customers pass as ``model`` and what routes carry
    name: str
    api_model: str | None = None  # the vendor's wire id for text-to-video (defaults to ``id``)
    api_model_image: str | None = None  # the wire id for image-to-video when it differs
    resolutions: tuple[Resolution, ...]
    aspects: tuple[Aspect, ...]
    durations: tuple[int, ...]  # allowed output lengths in seconds (or ``duration_range = [lo, hi]`` in TOML)
    durations_at: dict[Resolution, tuple[int, ...]] = Field(default_factory=dict)  # narrower per resolution
    text_input: bool = True
    image_input: bool = False
    prices: dict[Resolution, Price]
    quality: int = Field(ge=0, le=100)
    quality_source: str
    typical_latency_seconds: int = Field(gt=0)
    duration_format: DurationFormat = "int"  # how aggregators (fal, Replicate) want ``duration`` sent
    image_field: str = "image"  # the input name aggregators use for a first-frame image
    wire_resolutions: dict[Resolution, str] = Field(default_factory=dict)  # e.g. 720p is sent as "768P"
    api_surface: str = ""  # which of a vendor's APIs serves the model, when it has several (luma: "agents")
    # What the vendor's per-job usage report counts (fal's ``x-fal-billable-units``), when its unit is known
    # to be our price unit: the settled cost is then that count x the price per second, not the estimate.
    billable_unit: Literal["", "second"] = ""
    # The longest prompt the model takes, in ``prompt_length`` units; the router drops a model whose
    # limit is below the prompt rather than let the vendor refuse it at submit.
    max_prompt_chars: int = Field(default=DEFAULT_MAX_PROMPT_CHARS, gt=0)
    # Lifecycle: from ``deprecated_on`` the model still serves jobs but answers say it is going away; from
    # ``retired_on`` it takes no new jobs (410 ``model_retired`` naming ``successor``, a model id of the
    # same vendor). Jobs already running on it are not affected: their route was fixed at start.
    deprecated_on: date | None = None
    retired_on: date | None = None
    successor: str | None = None
    # Other names customers may pass as ``model`` (a family name that always means its newest model).
    aliases: tuple[str, ...] = ()
    notes: str = ""

    @model_validator(mode="before")
    @classmethod
    def _expand_duration_range(cls, data: Any) -> Any:
        if isinstance(data, dict) and "duration_range" in data:
            low, high = data.pop("duration_range")
            data = {**data, "durations": list(range(int(low), int(high) + 1))}
        return data

    @model_validator(mode="after")
    def _every_resolution_is_priced(self) -> ModelEntry:
        missing = [r.value for r in self.resolutions if r not in self.prices]
        if missing:
            raise ValueError(f"model {self.id}: no price for {', '.join(missing)}")
        stray = [r.value for r in self.durations_at if r not in self.resolutions]
        if stray:
            raise ValueError(f"model {self.id}: durations_at names unsupported {', '.join(stray)}")
        if not self.durations:
            raise ValueError(f"model {self.id}: durations is empty")
        if self.deprecated_on and self.retired_on and self.retired_on < self.deprecated_on:
            raise ValueError(f"model {self.id}: retired_on is before deprecated_on")
        return self

    def lifecycle(self, today: date) -> ModelLifecycle:
        """Where the model stands on ``today``: ``active``, ``deprecated`` or ``retired``."""
        if self.retired_on is not None and today >= self.retired_on:
            return "retired"
        if self.deprecated_on is not None and today >= self.deprecated_on:
            return "deprecated"
        return "active"

    def answers_to(self, name: str) -> bool:
        """True when ``name`` is this model's id or one of its aliases."""
        return name == self.id or name in self.aliases

    @property
    def wire_model(self) -> str:
        return self.api_model or self.id

    def wire_model_for(self, with_image: bool) -> str:
        return (self.api_model_image or self.wire_model) if with_image else self.wire_model

    def wire_duration(self, seconds: int) -> int | str:
        if self.duration_format == "string":
            return str(seconds)
        if self.duration_format == "seconds_suffix":
            return f"{seconds}s"
        return seconds

    def wire_resolution(self, resolution: Resolution) -> str:
        return self.wire_resolutions.get(resolution, resolution.value)

    def allowed_durations(self, resolution: Resolution) -> tuple[int, ...]:
        return self.durations_at.get(resolution, self.durations)

    def price_per_second(self, resolution: Resolution) -> Decimal:
        return self.prices[resolution].usd_per_second


class VendorEntry(_Frozen):
    id: str
    name: str
    key_env: tuple[str, ...]  # environment variables that configure it; empty = always configured
    docs_url: str
    max_concurrency: int = Field(default=4, gt=0)  # in-flight HTTP calls per worker process
    # A fallback-only vendor (the local renderer) is routed automatically only when no other vendor is
    # configured, or when asked for by name: a paying setup never gets a placeholder render by surprise.
    fallback_only: bool = False
    notes: str = ""
    models: tuple[ModelEntry, ...]

    def model(self, model_id: str) -> ModelEntry | None:
        return next((m for m in self.models if m.id == model_id), None)


class Catalog(_Frozen):
    schema_version: int
    updated: date
    vendors: tuple[VendorEntry, ...]

    @model_validator(mode="after")
    def _ids_are_unique(self) -> Catalog:
        seen: set[str] = set()
        for vendor in self.vendors:
            if vendor.id in seen:
                raise ValueError(f"vendor {vendor.id} listed twice")
            seen.add(vendor.id)
            model_ids = [m.id for m in vendor.models]
            if len(model_ids) != len(set(model_ids)):
                raise ValueError(f"vendor {vendor.id} lists a model id twice")
            _check_names(vendor)
        return self

    def vendor(self, vendor_id: str) -> VendorEntry | None:
        return next((v for v in self.vendors if v.id == vendor_id), None)

    def model(self, vendor_id: str, model_id: str) -> ModelEntry | None:
        vendor = self.vendor(vendor_id)
        return vendor.model(model_id) if vendor else None

    def pairs(self) -> list[tuple[VendorEntry, ModelEntry]]:
        return [(vendor, model) for vendor in self.vendors for model in vendor.models]


def _check_names(vendor: VendorEntry) -> None:
    """Aliases name one model each and never shadow a model id; successors are models of the vendor."""
    ids = {m.id for m in vendor.models}
    aliases = [alias for m in vendor.models for alias in m.aliases]
    if len(aliases) != len(set(aliases)) or ids & set(aliases):
        raise ValueError(f"vendor {vendor.id}: an alias names two models, or shadows a model id")
    for model in vendor.models:
        if model.successor is not None and (model.successor not in ids or model.successor == model.id):
            raise ValueError(
                f"model {vendor.id}/{model.id}: successor {model.successor!r} is not another model"
            )


def today_utc() -> date:
    return datetime.now(UTC).date()


def parse_catalog(text: str) -> Catalog:
    """Validate catalog TOML text (the file's ``[vendors.<id>]`` tables become ``VendorEntry``s)."""
    raw = tomllib.loads(text)
    vendors = [{"id": vendor_id, **body} for vendor_id, body in raw.get("vendors", {}).items()]
    return Catalog.model_validate({**raw, "vendors": vendors})


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    return parse_catalog(CATALOG_PATH.read_text(encoding="utf-8"))
