"""The router as a table: request + configured vendors → ordered route, or the NoRouteError it must raise.

Runs against the shipped catalog, so a catalog edit that changes routing shows up here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest

from api.schemas import MAX_PROMPT_CHARS
from core.errors import ErrorCode
from core.models import Aspect, Prefer, Resolution, VideoSpec
from vendors.catalog import DEFAULT_MAX_PROMPT_CHARS, load_catalog, parse_catalog, prompt_length
from vendors.router import PROMPT_TOO_LONG, NoRouteError, balanced_score, plan_route

# The day the route table below is true on: Luma's ray-2 is deprecated then, not yet retired.
TABLE_DAY = date(2026, 12, 7)
ALL = {"local", "google", "runway", "luma", "replicate", "fal", "minimax", "kling"}
IMAGE = "https://images.example/first.png"


@dataclass(frozen=True)
class Row:
    name: str
    spec: VideoSpec
    configured: set[str]
    prefer: Prefer = Prefer.BALANCED
    vendor: str | None = None
    model: str | None = None
    route: list[str] = field(default_factory=list)  # expected "vendor/model" order (full route)
    error: ErrorCode | None = None
    constraint: str | None = None
    alternatives_include: list[str] = field(default_factory=list)


def spec(**fields: object) -> VideoSpec:
    return VideoSpec.model_validate({"prompt": "a heron takes off", **fields})


ROWS = [
    Row("no keys: the local renderer serves everything", spec(), {"local"}, route=["local/local-preview"]),
    Row(
        "no keys: even 4k",
        spec(resolution="4k", duration_seconds=30),
        {"local"},
        route=["local/local-preview"],
    ),
    Row(
        "cheapest 5 s 720p across all vendors, local left out",
        spec(duration_seconds=5),
        ALL,
        prefer=Prefer.CHEAPEST,
        route=["luma/ray-flash-2", "kling/kling-v2-5-turbo", "runway/gen4.5", "luma/ray-2", "luma/ray-3.2"],
    ),
    Row(
        "smartest 8 s 720p: Veo 3.1 first",
        spec(duration_seconds=8),
        ALL,
        prefer=Prefer.SMARTEST,
        route=[
            "google/veo-3.1",
            "runway/gen4.5",
            "google/veo-3.1-fast",
            "replicate/google/veo-3.1-fast",
            "fal/fal-ai/veo3/fast",
        ],
    ),
    Row(
        "balanced 8 s 720p: quality per dollar, Veo 3.1 (best but 2.7x the price) last",
        spec(duration_seconds=8),
        ALL,
        route=[
            "runway/gen4.5",
            "google/veo-3.1-fast",
            "replicate/google/veo-3.1-fast",
            "fal/fal-ai/veo3/fast",
            "google/veo-3.1",
        ],
    ),
    Row(
        "balanced with a free renderer and one paid vendor: the paid vendor only",
        spec(duration_seconds=5),
        {"local", "kling"},
        route=["kling/kling-v2-5-turbo"],
    ),
    Row(
        "4k balanced: Luma and Veo (8 s only at 4k), never a smaller size",
        spec(resolution="4k", duration_seconds=8),
        ALL,
        route=["google/veo-3.1-fast", "google/veo-3.1"],
    ),
    Row(
        "4k with no 4k-capable key is unsupported_resolution naming who would serve it",
        spec(resolution="4k", duration_seconds=8),
        {"local", "runway", "minimax"},
        error=ErrorCode.UNSUPPORTED_RESOLUTION,
        constraint="resolution",
        alternatives_include=[
            "google/veo-3.1 (not configured: set GEMINI_API_KEY or GOOGLE_API_KEY)",
            "runway/gen4.5 (offers 720p)",
            "local/local-preview (preview renderer, only when asked for with vendor=local)",
        ],
    ),
    Row(
        "an explicit vendor lacking the resolution: unsupported_resolution, other vendors as alternatives",
        spec(resolution="1080p", duration_seconds=5),
        ALL,
        vendor="runway",
        error=ErrorCode.UNSUPPORTED_RESOLUTION,
        constraint="resolution",
        alternatives_include=[
            "kling/kling-v2-5-turbo (without vendor=runway)",
            "runway/gen4.5 (offers 720p)",
        ],
    ),
    Row(
        "an explicit vendor pins the route to its models",
        spec(duration_seconds=5),
        ALL,
        vendor="luma",
        prefer=Prefer.SMARTEST,
        route=["luma/ray-3.2", "luma/ray-2", "luma/ray-flash-2"],
    ),
    Row(
        "an explicit model pins one candidate",
        spec(duration_seconds=6),
        ALL,
        model="MiniMax-Hailuo-02",
        route=["minimax/MiniMax-Hailuo-02"],
    ),
    Row(
        "asking for local by name works even with paid vendors configured",
        spec(),
        ALL,
        vendor="local",
        route=["local/local-preview"],
    ),
    Row(
        "an explicit vendor with no key is no_route saying which key to set",
        spec(duration_seconds=5),
        {"local"},
        vendor="runway",
        error=ErrorCode.NO_ROUTE,
        constraint="configured",
        alternatives_include=["runway/gen4.5 (not configured: set RUNWAYML_API_SECRET)"],
    ),
    Row(
        "an unknown vendor is no_route listing the known ones",
        spec(),
        ALL,
        vendor="sora",
        error=ErrorCode.NO_ROUTE,
        constraint="vendor",
        alternatives_include=["google", "runway", "local"],
    ),
    Row(
        "an unknown model is no_route listing the known ones",
        spec(),
        ALL,
        vendor="google",
        model="veo-9",
        error=ErrorCode.NO_ROUTE,
        constraint="model",
        alternatives_include=["google/veo-3.1", "google/veo-3.1-fast"],
    ),
    Row(
        "a duration nobody configured allows is no_route on duration, not rounded",
        spec(duration_seconds=7),
        {"local", "google"},
        error=ErrorCode.NO_ROUTE,
        constraint="duration",
        alternatives_include=["google/veo-3.1-fast (durations 4, 6, 8 s)"],
    ),
    Row(
        "1080p on Veo is 8 s only",
        spec(resolution="1080p", duration_seconds=6),
        {"local", "google"},
        error=ErrorCode.NO_ROUTE,
        constraint="duration",
        alternatives_include=["google/veo-3.1 (durations 8 s)"],
    ),
    Row(
        "square is only for models that render it",
        spec(aspect="1:1", duration_seconds=8),
        {"local", "google", "minimax"},
        error=ErrorCode.NO_ROUTE,
        constraint="aspect",
        alternatives_include=["google/veo-3.1 (offers 16:9, 9:16)"],
    ),
    Row(
        "an image-only model is routed only with a reference image",
        spec(duration_seconds=5, reference_image_url=IMAGE),
        {"local", "runway"},
        prefer=Prefer.CHEAPEST,
        route=["runway/gen4_turbo", "runway/gen4.5"],
    ),
    Row(
        "without an image the image-only model is left out",
        spec(duration_seconds=5),
        {"local", "runway"},
        prefer=Prefer.CHEAPEST,
        route=["runway/gen4.5"],
    ),
    Row(
        "text-only input to an image-only model by name is no_route on reference_image",
        spec(duration_seconds=5),
        ALL,
        model="gen4_turbo",
        error=ErrorCode.NO_ROUTE,
        constraint="reference_image",
        alternatives_include=["runway/gen4_turbo (needs a reference image)"],
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_route_table(row: Row) -> None:
    catalog = load_catalog()
    if row.error is None:
        route = plan_route(
            row.spec, row.prefer, row.vendor, row.model, catalog, row.configured, today=TABLE_DAY
        )
        assert [f"{c.vendor}/{c.model}" for c in route] == row.route
        return
    with pytest.raises(NoRouteError) as caught:
        plan_route(row.spec, row.prefer, row.vendor, row.model, catalog, row.configured, today=TABLE_DAY)
    err = caught.value
    assert (err.code, err.constraint) == (row.error, row.constraint), err.detail
    for alternative in row.alternatives_include:
        assert alternative in err.alternatives, err.alternatives


def test_the_estimate_is_price_per_second_at_the_resolution_times_duration() -> None:
    route = plan_route(
        spec(resolution="4k", duration_seconds=8), Prefer.SMARTEST, "google", None, load_catalog(), ALL
    )
    assert [(c.model, c.estimated_cost_usd) for c in route] == [
        ("veo-3.1", Decimal("4.80")),
        ("veo-3.1-fast", Decimal("2.80")),
    ]


def test_balanced_never_prefers_the_free_renderer_over_a_typical_paid_model() -> None:
    catalog = load_catalog()
    local = catalog.model("local", "local-preview")
    paid = catalog.model("minimax", "MiniMax-Hailuo-02")
    assert local is not None and paid is not None
    assert balanced_score(local, Decimal(0)) < balanced_score(paid, Decimal("0.52"))


def test_no_route_errors_carry_a_readable_detail() -> None:
    with pytest.raises(NoRouteError) as caught:
        plan_route(
            spec(resolution="4k", duration_seconds=8),
            Prefer.BALANCED,
            None,
            None,
            load_catalog(),
            {"local"} | {"runway"},
        )
    assert "4k" in caught.value.detail and caught.value.alternatives


def test_portrait_routes_exist_for_every_resolution_somewhere() -> None:
    for resolution in Resolution:
        route = plan_route(
            VideoSpec(prompt="p", aspect=Aspect.PORTRAIT, resolution=resolution, duration_seconds=8),
            Prefer.BALANCED,
            None,
            None,
            load_catalog(),
            ALL,
        )
        assert route, resolution


# --- prompt length: a model whose limit is below the prompt is dropped, never tried and failed over ---

LIMITS_CATALOG = """
schema_version = 1
updated = 2026-12-07
[vendors.short]
name = "Short"
key_env = []
docs_url = "x"
[[vendors.short.models]]
id = "terse"
name = "Terse"
resolutions = ["720p"]
aspects = ["16:9"]
durations = [5]
max_prompt_chars = 100
quality = 90
quality_source = "test"
typical_latency_seconds = 10
[vendors.short.models.prices.720p]
usd_per_second = "0.01"
source = "test"
as_of = 2026-12-07
[vendors.long]
name = "Long"
key_env = []
docs_url = "x"
[[vendors.long.models]]
id = "roomy"
name = "Roomy"
resolutions = ["720p"]
aspects = ["16:9"]
durations = [5]
max_prompt_chars = 500
quality = 50
quality_source = "test"
typical_latency_seconds = 10
[vendors.long.models.prices.720p]
usd_per_second = "0.10"
source = "test"
as_of = 2026-12-07
"""


def _limits_route(prompt: str, vendor: str | None = None) -> list[str]:
    catalog = parse_catalog(LIMITS_CATALOG)
    route = plan_route(spec(prompt=prompt), Prefer.CHEAPEST, vendor, None, catalog, {"short", "long"})
    return [f"{c.vendor}/{c.model}" for c in route]


def test_a_model_whose_prompt_limit_is_below_the_prompt_is_left_off_the_route() -> None:
    assert _limits_route("p" * 100) == ["short/terse", "long/roomy"]  # at the limit: still routed
    assert _limits_route("p" * 101) == ["long/roomy"]


def test_a_prompt_longer_than_every_candidate_takes_is_prompt_too_long_naming_the_limit() -> None:
    with pytest.raises(NoRouteError) as refused:
        _limits_route("p" * 501)

    error = refused.value
    assert (error.code, error.constraint, error.max_prompt_chars) == (PROMPT_TOO_LONG, "prompt_length", 500)
    assert "501" in error.detail and "500" in error.detail
    assert "long/roomy (prompts up to 500 characters)" in error.alternatives


def test_the_limit_named_is_that_of_the_asked_vendor() -> None:
    with pytest.raises(NoRouteError) as refused:
        _limits_route("p" * 101, vendor="short")

    assert (refused.value.code, refused.value.max_prompt_chars) == (PROMPT_TOO_LONG, 100)
    assert "long/roomy (without vendor=short)" in refused.value.alternatives


def test_prompts_are_measured_in_utf16_units_so_emoji_count_twice() -> None:
    assert prompt_length("\U0001f3ac" * 50) == 100 and prompt_length("é" * 50) == 50
    assert _limits_route("\U0001f3ac" * 51) == ["long/roomy"]


def test_runway_takes_1000_units_per_its_docs_and_undocumented_models_default_as_conservatively() -> None:
    catalog = load_catalog()
    limits = {f"{v.id}/{m.id}": m.max_prompt_chars for v, m in catalog.pairs()}
    assert limits["runway/gen4.5"] == limits["runway/gen4_turbo"] == 1000
    assert limits["local/local-preview"] == 2 * MAX_PROMPT_CHARS  # the API's own cap, emoji included
    assert all(
        limit <= DEFAULT_MAX_PROMPT_CHARS for pair, limit in limits.items() if pair != "local/local-preview"
    )


def test_over_every_paid_limit_the_router_refuses_rather_than_picking_the_local_renderer() -> None:
    with pytest.raises(NoRouteError) as refused:
        plan_route(spec(prompt="p" * 1001), Prefer.BALANCED, None, None, load_catalog(), ALL)

    assert (refused.value.code, refused.value.max_prompt_chars) == (PROMPT_TOO_LONG, 1000)
    assert any(a.startswith("local/local-preview (preview renderer") for a in refused.value.alternatives)
