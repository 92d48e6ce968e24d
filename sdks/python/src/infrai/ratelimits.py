"""The server's ``RateLimit`` header field (IETF draft-ietf-httpapi-ratelimit-headers, section 4), read.

``RateLimit: "default";r=2999;t=42, "jobs";r=0;t=42`` says, per quota policy, how many requests are left
(``r``) and in how many seconds the window ends (``t``). A malformed field or item is ignored, as the
draft requires; so is any parameter we do not know.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# One list member: a quoted String or a Token naming the policy, then its ;key=value parameters.
_MEMBER = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([A-Za-z*][A-Za-z0-9_.:%*/!#$&\'+^`|~-]*))((?:;[^;,]*)*)\s*')
_PARAMETER = re.compile(r';\s*([a-z*][a-z0-9_.*-]*)(?:=("(?:[^"\\]|\\.)*"|[^;]*))?')


@dataclass(frozen=True)
class RateLimit:
    """One quota policy's service limit as the server last stated it."""

    policy: str
    remaining: int  # requests left in the window (``r``)
    reset: int | None  # seconds until the window ends (``t``), when the server said


def _members(value: str) -> Iterator[str]:
    """The list's members: split on commas outside quoted strings."""
    start, quoted, escaped = 0, False, False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            yield value[start:index]
            start = index + 1
    yield value[start:]


def _non_negative(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and len(text) <= 15 else None


def _parse_member(member: str) -> RateLimit | None:
    matched = _MEMBER.fullmatch(member)
    if matched is None:
        return None
    name = matched.group(1) if matched.group(1) is not None else matched.group(2)
    parameters = {key: value for key, value in _PARAMETER.findall(matched.group(3))}
    remaining = _non_negative(parameters.get("r"))
    if remaining is None:  # ``r`` is required
        return None
    return RateLimit(policy=name, remaining=remaining, reset=_non_negative(parameters.get("t")))


def parse_ratelimit(value: str | None) -> tuple[RateLimit, ...]:
    """Every well-formed service limit item of a ``RateLimit`` field value (none for a missing field)."""
    if not value or not value.strip():
        return ()
    limits = (_parse_member(member) for member in _members(value))
    return tuple(limit for limit in limits if limit is not None)


def exhausted_reset(limits: Iterable[RateLimit]) -> int | None:
    """Seconds until every exhausted policy (``r=0``) has a new window: the wait a 429 calls for when the
    server sent no ``Retry-After`` (which, when sent, takes precedence)."""
    resets = [limit.reset for limit in limits if limit.remaining == 0 and limit.reset is not None]
    return max(resets) if resets else None
