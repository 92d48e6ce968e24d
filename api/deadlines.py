"""A generate request's deadline: the ``deadline_seconds`` field, or the ``Cancel-After`` header as
Replicate spells it.

``Cancel-After`` is a duration: whole hours, minutes and seconds in that order, each written with its
unit (``90s``, ``5m``, ``1h30m``, ``1h30m45s``), or a bare number of seconds (``30``). Like Replicate we
refuse anything under 5 seconds. Our upper bound (24 hours) is ours. Every refusal is a 422 with the code
``invalid_deadline``: a malformed or out-of-range header, several ``Cancel-After`` headers, or a header
that disagrees with the body's ``deadline_seconds``. The same value given both ways is accepted.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header
from starlette.datastructures import Headers

from api.problems import ProblemError
from core.errors import ErrorCode

MIN_DEADLINE_SECONDS = 5
MAX_DEADLINE_SECONDS = 24 * 3600
CANCEL_AFTER = "Cancel-After"
CANCEL_AFTER_DESCRIPTION = (
    "Cancel the job if it has not finished this long after it started, as Replicate spells it: `90s`, "
    "`5m`, `1h30m`, or a bare number of seconds; 5 s to 24 h. The same as `deadline_seconds`."
)
# A route's ``Cancel-After`` parameter, declared for the OpenAPI document: ``requested_deadline`` reads
# every copy that was sent.
CancelAfterHeader = Annotated[str | None, Header(alias=CANCEL_AFTER, description=CANCEL_AFTER_DESCRIPTION)]

_DURATION = re.compile(r"(?:(?P<h>\d{1,6})h)?(?:(?P<m>\d{1,6})m)?(?:(?P<s>\d{1,6})s)?")
_SECONDS = re.compile(r"\d{1,6}")


def cancel_after_seconds(value: str) -> int:
    """The seconds a ``Cancel-After`` value names; a 422 ``invalid_deadline`` problem if it names none."""
    text = value.strip()
    if _SECONDS.fullmatch(text):
        seconds = int(text)
    else:
        parts = _DURATION.fullmatch(text)
        if not text or parts is None:
            raise _invalid(
                f"Cancel-After {value!r} is not a duration: write hours, minutes and seconds with their "
                "units, e.g. 90s, 5m or 1h30m (a bare number is seconds)."
            )
        hours, minutes, secs = (int(parts.group(unit) or 0) for unit in ("h", "m", "s"))
        seconds = hours * 3600 + minutes * 60 + secs
    if not MIN_DEADLINE_SECONDS <= seconds <= MAX_DEADLINE_SECONDS:
        raise _invalid(
            f"Cancel-After {value!r} is {seconds} s; a deadline must be between {MIN_DEADLINE_SECONDS} s "
            f"and {MAX_DEADLINE_SECONDS // 3600} h."
        )
    return seconds


def requested_deadline(deadline_seconds: int | None, headers: Headers) -> int | None:
    """The request's one deadline in seconds, from the body field or the ``Cancel-After`` header."""
    sent = headers.getlist(CANCEL_AFTER)
    if len(sent) > 1:
        raise _invalid("Send one Cancel-After header, not several.")
    if not sent:
        return deadline_seconds
    header = cancel_after_seconds(sent[0])
    if deadline_seconds is not None and deadline_seconds != header:
        raise _invalid(
            f"The Cancel-After header ({sent[0]}, {header} s) and deadline_seconds ({deadline_seconds}) "
            "differ; send one of them, or the same deadline in both."
        )
    return header


def _invalid(detail: str) -> ProblemError:
    return ProblemError(422, ErrorCode.INVALID_DEADLINE, detail)
