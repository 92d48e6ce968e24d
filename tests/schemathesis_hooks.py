"""Schemathesis hooks for tests/test_api_fuzzing.py: header and query values in the shapes our code parses.

The OpenAPI document types ``Prefer``, ``Last-Event-ID``, ``Idempotency-Key`` and the media URL's ``exp`` and
``sig`` as plain strings, so the fuzzer sends random text that never reaches the number parsing behind them
(``wait=N``, a unix time, an event position). These hooks replace the value about half the time with a
number of any length, up to past Python's int-from-string limit (4300 digits), where ``int()`` raises.

A replaced listing ``limit`` is always out of range, so a case generated to be invalid stays invalid and
``negative_data_rejection`` still holds; the other parameters take any string, so there is no invalid value
to preserve.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st

INT_DIGIT_LIMIT = 4300

# Numbers as text: small, 64-bit-ish, around the int-from-string limit, zero-padded, and lookalikes.
NUMBERS: st.SearchStrategy[str] = st.one_of(
    st.integers(0, 120).map(str),
    st.integers(0, 2**70).map(str),
    st.integers(INT_DIGIT_LIMIT - 10, INT_DIGIT_LIMIT + 1700).map(lambda n: "9" * n),
    st.integers(1, 6000).map(lambda n: "0" * n + "7"),
    st.integers(1, 6000).map(lambda n: "-" + "1" * n),
    st.sampled_from(["", "-1", "1e999", "1e-999", "NaN", "Infinity", "1.5", "0x10", "+5", " 5 ", "5 6"]),
)
HEX = st.text("0123456789abcdefABCDEF", min_size=0, max_size=200)

PREFER = st.one_of(
    NUMBERS.map(lambda n: f"wait={n}"),
    NUMBERS.map(lambda n: f'respond-async, wait="{n}"'),
    NUMBERS.map(lambda n: f"handling=lenient; wait={n}, wait=1"),
)
IDEMPOTENCY_KEYS = st.one_of(
    st.text("abcXYZ0123456789._:-", min_size=1, max_size=300),
    NUMBERS,
)
OUT_OF_RANGE_LIMITS = st.one_of(
    st.integers(INT_DIGIT_LIMIT - 10, INT_DIGIT_LIMIT + 1700).map(lambda n: "9" * n),
    st.integers(101, 2**70).map(str),
    st.integers(1, 6000).map(lambda n: "-" + "9" * n),
    st.sampled_from(["0", "1e999", "NaN", "1.5"]),
)

# A header value cannot begin or end with whitespace (RFC 9110 strips it; HTTP clients refuse to send it),
# so " 5 " goes as "5" in a header and as itself in a query string.
HEADERS: dict[str, st.SearchStrategy[str]] = {
    "prefer": PREFER.map(str.strip),
    "last-event-id": NUMBERS.map(str.strip),
    "idempotency-key": IDEMPOTENCY_KEYS.map(str.strip),
}
QUERY: dict[str, st.SearchStrategy[str]] = {
    "exp": NUMBERS,
    "sig": st.one_of(HEX, NUMBERS),
    "limit": OUT_OF_RANGE_LIMITS,
    "after": NUMBERS,
}


def _declared(parameters: Any) -> dict[str, str]:
    """The operation's parameter names by lower case (header names are case-insensitive)."""
    return {parameter.name.lower(): parameter.name for parameter in parameters}


def _with_hostile_values(
    values: dict[str, Any] | None, declared: dict[str, str], table: dict[str, st.SearchStrategy[str]]
) -> st.SearchStrategy[dict[str, Any] | None]:
    ours = {declared[name]: strategy for name, strategy in table.items() if name in declared}
    if not ours:
        return st.just(values)
    overrides = st.fixed_dictionaries({}, optional=ours)
    return st.one_of(st.just(values), overrides.map(lambda chosen: {**(values or {}), **chosen} or values))


@schemathesis.hook
def flatmap_headers(ctx: Any, headers: dict[str, Any] | None) -> st.SearchStrategy[dict[str, Any] | None]:
    return _with_hostile_values(headers, _declared(ctx.operation.headers), HEADERS)


@schemathesis.hook
def flatmap_query(ctx: Any, query: dict[str, Any] | None) -> st.SearchStrategy[dict[str, Any] | None]:
    return _with_hostile_values(query, _declared(ctx.operation.query), QUERY)
