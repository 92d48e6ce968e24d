"""``infrai models``: the catalog as a table: availability, lifecycle dates, successor, aliases, and the
measured vendor times (p50/p90 over n recent jobs) per resolution and duration."""

from __future__ import annotations

from infrai.models import ModelList, VideoModelInfo


def _lifecycle(model: VideoModelInfo) -> str:
    if model.lifecycle == "retired":
        text = f"RETIRED {model.retired_on}"
    elif model.lifecycle == "deprecated":
        text = f"deprecated {model.deprecated_on}" + (
            f", retires {model.retired_on}" if model.retired_on else ""
        )
    else:
        text = ""
    if model.successor and model.lifecycle != "active":
        text += f" -> {model.vendor}/{model.successor}"
    return text


def format_models(models: ModelList) -> str:
    lines = [f"{'MODEL':<44} {'AVAILABLE':<9}  {'TYPICAL':>7}  LIFECYCLE"]
    for model in models.data:
        aliases = f" (alias {', '.join(model.aliases)})" if model.aliases else ""
        typical = f"{model.typical_latency_seconds}s" if model.typical_latency_seconds else "-"
        available = "yes" if model.available else "no"
        lines.append(f"{model.id + aliases:<44} {available:<9}  {typical:>7}  {_lifecycle(model)}".rstrip())
        for measured in model.measured_latency:
            lines.append(
                f"    {measured.resolution} {measured.duration_seconds}s: p50 {measured.p50_seconds:.1f}s, "
                f"p90 {measured.p90_seconds:.1f}s over {measured.samples} jobs"
                + ("" if measured.used_for_eta else " (too few for ETAs yet)")
            )
    return "\n".join(lines)
