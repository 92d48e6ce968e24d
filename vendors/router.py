"""Turn a request into an ordered route of vendor/model candidates, or say precisely why there is none.

Filtering: a candidate must match the explicit ``vendor``/``model`` (when given), render the asked resolution
and aspect, allow the exact duration (no silent rounding), take a reference image when one is given (and
not need one when none is), take a prompt this long (the catalog's ``max_prompt_chars``: a vendor refusing
it at submit would fail the job over quietly, or fail it), and belong to a configured vendor.
Fallback-only vendors (the local renderer) are routed automatically only when no other vendor is
configured; asked for by name, they always are.

Ordering by ``prefer`` (ties broken by lower cost, higher quality, lower latency, then name):

- ``cheapest``: lowest estimated cost (price per second at the resolution times the duration).
- ``smartest``: highest catalog quality score.
- ``balanced``: highest ``quality² / (estimated_cost_usd + $0.50)``. Squaring the 0-100 quality makes a
  point of quality worth more as quality rises, and the $0.50 floor stands for the fixed cost of any job
  (the customer's wait, a retry), so a free or near-free model does not win on price alone: the local
  renderer (quality 10, free) scores 200 while a typical paid model (quality 85, ~$1) scores ~4,800.

Nothing is ever downgraded to fit: when no candidate survives, ``NoRouteError`` names the constraint that
excluded the last candidates and lists what would serve the request with that constraint relaxed or with
another vendor's key configured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal

from core.errors import ErrorCode
from core.models import Prefer, RouteCandidate, VideoSpec
from vendors.catalog import Catalog, ModelEntry, VendorEntry, prompt_length, today_utc
from vendors.registry import missing_configuration

BALANCED_COST_FLOOR_USD = Decimal("0.50")
# The problem code when the prompt is longer than every otherwise fitting candidate takes.
PROMPT_TOO_LONG = "prompt_too_long"

Pair = tuple[VendorEntry, ModelEntry]


class NoRouteError(Exception):
    """No configured vendor/model can serve the request. The API answers 422 with these fields."""

    def __init__(
        self,
        code: str,
        constraint: str,
        detail: str,
        alternatives: list[str],
        *,
        max_prompt_chars: int | None = None,
        successor: str | None = None,
        retired_on: date | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.constraint = constraint
        self.detail = detail
        self.alternatives = alternatives
        # With PROMPT_TOO_LONG: the longest prompt any otherwise fitting candidate takes.
        self.max_prompt_chars = max_prompt_chars
        # With MODEL_RETIRED: the pinned model's successor ("vendor/model") and when it was retired.
        self.successor = successor
        self.retired_on = retired_on

    def __repr__(self) -> str:
        return f"NoRouteError({self.code!s}, {self.constraint!r}, {self.detail!r})"


# Capability checks in the order they are reported: the first that empties the field is "the" constraint.
_CHECKS: list[tuple[str, Callable[[ModelEntry, VideoSpec], bool]]] = [
    ("resolution", lambda m, s: s.resolution in m.resolutions),
    ("aspect", lambda m, s: s.aspect in m.aspects),
    ("duration", lambda m, s: s.duration_seconds in _durations(m, s)),
    ("reference_image", lambda m, s: m.image_input if s.has_reference_image else m.text_input),
    ("prompt_length", lambda m, s: prompt_length(s.prompt) <= m.max_prompt_chars),
]


def _durations(model: ModelEntry, spec: VideoSpec) -> tuple[int, ...]:
    # At a resolution the model lacks, judge the duration by its general list, so that a model failing
    # only on resolution is reported as such (and offered as an alternative).
    return (
        model.allowed_durations(spec.resolution) if spec.resolution in model.resolutions else model.durations
    )


def estimate_cost(model: ModelEntry, spec: VideoSpec) -> Decimal:
    return model.price_per_second(spec.resolution) * spec.duration_seconds


def balanced_score(model: ModelEntry, cost: Decimal) -> Decimal:
    return Decimal(model.quality**2) / (cost + BALANCED_COST_FLOOR_USD)


def plan_route(
    spec: VideoSpec,
    prefer: Prefer,
    vendor: str | None,
    model: str | None,
    catalog: Catalog,
    configured: set[str],
    *,
    today: date | None = None,
) -> list[RouteCandidate]:
    """The ordered candidates for ``spec`` (see the module docstring), or ``NoRouteError``. Models retired
    on ``today`` (default: the UTC date) are never candidates; pinned by name, they are ``model_retired``."""
    scope = _current(_explicit_scope(catalog, vendor, model), model, today or today_utc())
    usable = [pair for pair in scope if pair[0].id in configured]
    explicit = vendor is not None or model is not None
    if not explicit and any(not v.fallback_only for v, _ in usable):
        usable = [pair for pair in usable if not pair[0].fallback_only]
    fitting = [pair for pair in usable if _fits(pair[1], spec)]
    if not fitting:
        raise _no_route(spec, vendor, model, catalog, configured, scope, usable)
    return [
        RouteCandidate(vendor=v.id, model=m.id, estimated_cost_usd=estimate_cost(m, spec))
        for v, m in sorted(fitting, key=_ordering(prefer, spec))
    ]


def _explicit_scope(catalog: Catalog, vendor: str | None, model: str | None) -> list[Pair]:
    pairs = catalog.pairs()
    if vendor is not None:
        if catalog.vendor(vendor) is None:
            known = sorted(v.id for v in catalog.vendors)
            raise NoRouteError(
                ErrorCode.NO_ROUTE,
                "vendor",
                f"Unknown vendor {vendor!r}; known vendors: {', '.join(known)}.",
                known,
            )
        pairs = [pair for pair in pairs if pair[0].id == vendor]
    if model is not None:
        matching = [pair for pair in pairs if pair[1].answers_to(model)]
        if not matching:
            known = [f"{v.id}/{m.id}" for v, m in pairs]
            where = f" at {vendor}" if vendor else ""
            raise NoRouteError(
                ErrorCode.NO_ROUTE,
                "model",
                f"Unknown model {model!r}{where}; known models: {', '.join(known)}.",
                known,
            )
        pairs = matching
    return pairs


def _current(scope: list[Pair], model: str | None, today: date) -> list[Pair]:
    """``scope`` without retired models; a pinned ``model`` naming only retired ones is ``model_retired``."""
    current = [pair for pair in scope if pair[1].lifecycle(today) != "retired"]
    if current or model is None or not scope:
        return current
    raise _retired(*scope[0])


def _retired(vendor: VendorEntry, model: ModelEntry) -> NoRouteError:
    successor = f"{vendor.id}/{model.successor}" if model.successor else None
    instead = f" Use {successor} instead." if successor else ""
    return NoRouteError(
        ErrorCode.MODEL_RETIRED,
        "model",
        f"The model {vendor.id}/{model.id} was retired on {model.retired_on}.{instead}",
        [successor] if successor else [],
        successor=successor,
        retired_on=model.retired_on,
    )


def _fits(model: ModelEntry, spec: VideoSpec) -> bool:
    return all(check(model, spec) for _, check in _CHECKS)


def _failed_checks(model: ModelEntry, spec: VideoSpec) -> set[str]:
    return {name for name, check in _CHECKS if not check(model, spec)}


def _ordering(prefer: Prefer, spec: VideoSpec) -> Callable[[Pair], tuple[object, ...]]:
    def key(pair: Pair) -> tuple[object, ...]:
        vendor, model = pair
        cost = estimate_cost(model, spec)
        tail = (model.typical_latency_seconds, vendor.id, model.id)
        if prefer is Prefer.CHEAPEST:
            return (cost, -model.quality, *tail)
        if prefer is Prefer.SMARTEST:
            return (-model.quality, cost, *tail)
        return (-balanced_score(model, cost), cost, -model.quality, *tail)

    return key


def _no_route(
    spec: VideoSpec,
    vendor: str | None,
    model: str | None,
    catalog: Catalog,
    configured: set[str],
    scope: list[Pair],
    usable: list[Pair],
) -> NoRouteError:
    """Name the constraint that excluded everything, and what would serve the request instead."""
    constraint = "configured" if not usable else _first_emptying_check(usable, spec)
    alternatives: list[str] = []
    # 1. In scope, fits everything, but the vendor has no key.
    alternatives += [
        f"{v.id}/{m.id} (not configured: {missing_configuration(v.id, catalog)})"
        for v, m in scope
        if v.id not in configured and _fits(m, spec)
    ]
    # 2. Configured and in scope, failing only the offending constraint: what it offers instead.
    alternatives += [
        f"{v.id}/{m.id} ({_offer(m, spec, constraint)})"
        for v, m in usable
        if _failed_checks(m, spec) == {constraint}
    ]
    # 3. The request would be served without the explicit vendor/model.
    if vendor is not None or model is not None:
        alternatives += [
            f"{v.id}/{m.id} (without {_explicit_text(vendor, model)})"
            for v, m in _others(catalog, scope)
            if v.id in configured and not v.fallback_only and _fits(m, spec)
        ]
    # 4. A configured fallback-only renderer would do it, but only when asked for by name.
    if vendor is None and model is None:
        alternatives += [
            f"{v.id}/{m.id} (preview renderer, only when asked for with vendor={v.id})"
            for v, m in scope
            if v.fallback_only and v.id in configured and (v, m) not in usable and _fits(m, spec)
        ]
    if constraint == "prompt_length":
        # The limit that matters: the roomiest of the candidates that fit everything but the prompt.
        limit = max(m.max_prompt_chars for _, m in usable if _failed_checks(m, spec) == {constraint})
        detail = (
            f"The prompt is {prompt_length(spec.prompt)} characters; the longest any configured "
            f"vendor/model{_scope_text(vendor, model)} for this request takes is {limit}. Shorten it."
        )
        return NoRouteError(PROMPT_TOO_LONG, constraint, detail, alternatives, max_prompt_chars=limit)
    code = ErrorCode.UNSUPPORTED_RESOLUTION if constraint == "resolution" else ErrorCode.NO_ROUTE
    return NoRouteError(
        code, constraint, _detail(constraint, spec, vendor, model, alternatives), alternatives
    )


def _first_emptying_check(pairs: list[Pair], spec: VideoSpec) -> str:
    remaining = [m for _, m in pairs]
    for name, check in _CHECKS:
        remaining = [m for m in remaining if check(m, spec)]
        if not remaining:
            return name
    return "configured"  # unreachable when called with pairs that do not fit


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
