"""Why no route (``vendors.router`` raises it): ``NoRouteError`` names the constraint that excluded the last
candidates and lists what would serve the request with that constraint relaxed or with another vendor's key
configured. The API answers 422 with these fields (410 for a retired model).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass
from datetime import date

from core.errors import ErrorCode
from core.models import VideoSpec
from vendors.capabilities import Pair, failed_checks, first_emptying_check, fits
from vendors.catalog import Catalog, ModelEntry, prompt_length
from vendors.registry import missing_configuration

# The problem code when the prompt is longer than every otherwise fitting candidate takes.
PROMPT_TOO_LONG = "prompt_too_long"


@dataclass(eq=False)  # eq=False: compared and hashed by identity, as exceptions are
class NoRouteError(Exception):
    """No configured vendor/model can serve the request. The API answers 422 with these fields."""

    code: str
    constraint: str
    detail: str
    alternatives: list[str]
    _: KW_ONLY
    # With PROMPT_TOO_LONG: the longest prompt any otherwise fitting candidate takes.
    max_prompt_chars: int | None = None
    # With MODEL_RETIRED: the pinned model's successor ("vendor/model") and when it was retired.
    successor: str | None = None
    retired_on: date | None = None

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    def __repr__(self) -> str:
        return f"NoRouteError({self.code!s}, {self.constraint!r}, {self.detail!r})"


def no_route_error(
    spec: VideoSpec,
    vendor: str | None,
    model: str | None,
    catalog: Catalog,
    configured: set[str],
    scope: list[Pair],
    usable: list[Pair],
) -> NoRouteError:
    """Name the constraint that excluded everything, and what would serve the request instead."""
    constraint = "configured" if not usable else first_emptying_check(usable, spec)
    alternatives: list[str] = []
    # 1. In scope, fits everything, but the vendor has no key.
    alternatives += [
        f"{v.id}/{m.id} (not configured: {missing_configuration(v.id, catalog)})"
        for v, m in scope
        if v.id not in configured and fits(m, spec)
    ]
    # 2. Configured and in scope, failing only the offending constraint: what it offers instead.
    alternatives += [
        f"{v.id}/{m.id} ({_offer(m, spec, constraint)})"
        for v, m in usable
        if failed_checks(m, spec) == {constraint}
    ]
    # 3. The request would be served without the explicit vendor/model.
    if vendor is not None or model is not None:
        alternatives += [
            f"{v.id}/{m.id} (without {_explicit_text(vendor, model)})"
            for v, m in _others(catalog, scope)
            if v.id in configured and not v.fallback_only and fits(m, spec)
        ]
    # 4. A configured fallback-only renderer would do it, but only when asked for by name.
    if vendor is None and model is None:
        alternatives += [
            f"{v.id}/{m.id} (preview renderer, only when asked for with vendor={v.id})"
            for v, m in scope
            if v.fallback_only and v.id in configured and (v, m) not in usable and fits(m, spec)
        ]
    if constraint == "prompt_length":
        # The limit that matters: the roomiest of the candidates that fit everything but the prompt.
        limit = max(m.max_prompt_chars for _, m in usable if failed_checks(m, spec) == {constraint})
        detail = (
            f"The prompt is {prompt_length(spec.prompt)} characters; the longest any configured "
            f"vendor/model{_scope_text(vendor, model)} for this request takes is {limit}. Shorten it."
        )
        return NoRouteError(PROMPT_TOO_LONG, constraint, detail, alternatives, max_prompt_chars=limit)
    code = ErrorCode.UNSUPPORTED_RESOLUTION if constraint == "resolution" else ErrorCode.NO_ROUTE
    return NoRouteError(
        code, constraint, _detail(constraint, spec, vendor, model, alternatives), alternatives
    )


def _others(catalog: Catalog, scope: Iterable[Pair]) -> list[Pair]:
    in_scope = {(v.id, m.id) for v, m in scope}
    return [(v, m) for v, m in catalog.pairs() if (v.id, m.id) not in in_scope]


def _offer(model: ModelEntry, spec: VideoSpec, constraint: str) -> str:
    if constraint == "resolution":
        return "offers " + ", ".join(r.value for r in model.resolutions)
    if constraint == "aspect":
        return "offers " + ", ".join(a.value for a in model.aspects)
    if constraint == "duration":
        return "durations " + _seconds(model.allowed_durations(spec.resolution))
    if constraint == "reference_image":
        return "needs a reference image" if not model.text_input else "takes no reference image"
    if constraint == "prompt_length":
        return f"prompts up to {model.max_prompt_chars} characters"
    return constraint


def _seconds(durations: tuple[int, ...]) -> str:
    if len(durations) > 4 and list(durations) == list(range(durations[0], durations[-1] + 1)):
        return f"{durations[0]}-{durations[-1]} s"
    return ", ".join(str(d) for d in durations) + " s"


def _scope_text(vendor: str | None, model: str | None) -> str:
    return f" ({_explicit_text(vendor, model)})" if vendor or model else ""


def _explicit_text(vendor: str | None, model: str | None) -> str:
    parts = ([f"vendor={vendor}"] if vendor else []) + ([f"model={model}"] if model else [])
    return " and ".join(parts)


def _detail(
    constraint: str, spec: VideoSpec, vendor: str | None, model: str | None, alternatives: list[str]
) -> str:
    asked = {
        "resolution": f"resolution {spec.resolution.value}",
        "aspect": f"aspect {spec.aspect.value}",
        "duration": f"duration {spec.duration_seconds} s at {spec.resolution.value}",
        "reference_image": "a reference image" if spec.has_reference_image else "text-only input",
        "configured": "the requested vendor" if vendor or model else "this request",
    }[constraint]
    scope = _scope_text(vendor, model)
    hint = " See alternatives." if alternatives else ""
    if constraint == "configured":
        return f"No configured vendor can serve {asked}{scope}: its key is not set.{hint}"
    return f"No configured vendor/model{scope} supports {asked}.{hint}"
