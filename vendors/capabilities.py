"""Whether a catalog model can serve a request: the capability checks, in the order a refusal reports them.

The first check that empties the field of candidates is "the" constraint a ``NoRouteError`` names
(``vendors.no_route``); ``vendors.router`` keeps the candidates that pass them all.
"""

from __future__ import annotations

from collections.abc import Callable

from core.models import VideoSpec
from vendors.catalog import ModelEntry, VendorEntry, prompt_length

Pair = tuple[VendorEntry, ModelEntry]

CHECKS: list[tuple[str, Callable[[ModelEntry, VideoSpec], bool]]] = [
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


def fits(model: ModelEntry, spec: VideoSpec) -> bool:
    return all(check(model, spec) for _, check in CHECKS)


def failed_checks(model: ModelEntry, spec: VideoSpec) -> set[str]:
    return {name for name, check in CHECKS if not check(model, spec)}


def first_emptying_check(pairs: list[Pair], spec: VideoSpec) -> str:
    remaining = [m for _, m in pairs]
    for name, check in CHECKS:
        remaining = [m for m in remaining if check(m, spec)]
        if not remaining:
            return name
    return "configured"  # unreachable when called with pairs that do not fit
