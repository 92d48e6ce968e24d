"""How an answer says its job's model is deprecated: a ``model_deprecated`` warning in the body, and the
``Deprecation`` (RFC 9745: ``@`` + Unix time) and ``Sunset`` (RFC 8594: an HTTP date) headers. A retired
model never gets here: the router refuses it (410 ``model_retired``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from email.utils import format_datetime

from api.schemas import JobWarning
from vendors.catalog import Catalog, today_utc


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def deprecation_notice(
    catalog: Catalog, vendor: str | None, model: str | None, today: date | None = None
) -> tuple[list[JobWarning], dict[str, str]]:
    """The warnings and headers for a job on ``vendor``/``model``; nothing unless it is deprecated."""
    entry = catalog.model(vendor, model) if vendor and model else None
    if entry is None or entry.lifecycle(today or today_utc()) != "deprecated":
        return [], {}
    assert entry.deprecated_on is not None
    headers = {"Deprecation": f"@{int(_midnight(entry.deprecated_on).timestamp())}"}
    message = f"The model {vendor}/{model} is deprecated since {entry.deprecated_on}"
    if entry.retired_on is not None:
        headers["Sunset"] = format_datetime(_midnight(entry.retired_on), usegmt=True)
        message += f" and retires on {entry.retired_on}"
    if entry.successor is not None:
        message += f"; use {vendor}/{entry.successor} instead"
    return [JobWarning(code="model_deprecated", message=message + ".")], headers
