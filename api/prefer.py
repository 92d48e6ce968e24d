"""The ``Prefer`` request header (RFC 7240): only ``wait=N`` means something to us."""

from __future__ import annotations

MAX_WAIT_SECONDS = 60


def preferred_wait(header: str | None, cap: int = MAX_WAIT_SECONDS) -> int | None:
    """Seconds the client prefers to wait (``Prefer: wait=10``), at most ``cap``; None without one.

    Preferences are comma-separated, names case-insensitive, values optionally quoted; a preference the
    server does not understand is ignored, as RFC 7240 asks.
    """
    if not header:
        return None
    for preference in header.split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        value = value.strip().strip('"')
        if name.strip().lower() == "wait" and value.isascii() and value.isdigit():
            return min(int(value), cap)
    return None
