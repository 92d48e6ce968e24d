"""Turn a request into an ordered route of vendor/model candidates, or say precisely why there is none.

Filtering: a candidate must match the explicit ``vendor``/``model`` (when given), render the asked resolution
and aspect, allow the exact duration (no silent rounding), take a reference image when one is given (and
not need one when none is), take a prompt this long (the catalog's ``max_prompt_chars``: a vendor refusing
it at submit would fail the job over quietly, or fail it), and belong to a configured vendor. The
capability checks are ``vendors.capabilities``. Fallback-only vendors (the local renderer) are routed
automatically only when no other vendor is configured; asked for by name, they always are.

Ordering by ``prefer`` (ties broken by lower cost, higher quality, lower latency, then name):

- ``cheapest``: lowest estimated cost (price per second at the resolution times the duration).
- ``smartest``: highest catalog quality score.
- ``balanced``: highest ``quality² / (estimated_cost_usd + $0.50)``. Squaring the 0-100 quality makes a
  point of quality worth more as quality rises, and the $0.50 floor stands for the fixed cost of any job
  (the customer's wait, a retry), so a free or near-free model does not win on price alone: the local
  renderer (quality 10, free) scores 200 while a typical paid model (quality 85, ~$1) scores ~4,800.

Nothing is ever downgraded to fit: when no candidate survives, ``NoRouteError`` names the constraint that
excluded the last candidates and lists what would serve the request with that constraint relaxed or with
another vendor's key configured (``vendors.no_route``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from core.errors import ErrorCode
from core.models import Prefer, RouteCandidate, VideoSpec
from vendors.capabilities import Pair, fits
from vendors.catalog import Catalog, ModelEntry, VendorEntry, today_utc

# The refusal and its explanation, importable from here as before.
from vendors.no_route import PROMPT_TOO_LONG as PROMPT_TOO_LONG
from vendors.no_route import NoRouteError as NoRouteError
from vendors.no_route import no_route_error

BALANCED_COST_FLOOR_USD = Decimal("0.50")


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
    fitting = [pair for pair in usable if fits(pair[1], spec)]
    if not fitting:
        raise no_route_error(spec, vendor, model, catalog, configured, scope, usable)
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
