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
            return _capped_seconds(value, cap)
    return None


def _capped_seconds(digits: str, cap: int) -> int:
    """``wait`` is delta-seconds, and RFC 9111 (section 1.2.2) says a value too large to represent counts
    as the largest one we can: here the cap. Checking the length first keeps ``int`` away from a thousand
    digits (past Python's int-from-string limit, a ValueError)."""
    significant = digits.lstrip("0") or "0"
    return cap if len(significant) > len(str(cap)) else min(int(significant), cap)
