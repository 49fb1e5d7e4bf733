"""The one definition of a valid timestamp, for every input the pipelines read.

Source: DOMAIN.md §0 (durations are elapsed time between instants, so every timestamp must name one
instant) and §7 (exported timestamps are ISO 8601 with a zone). The accepted shape is RFC 3339's
``date-time`` — the format JSON schema checks on the trigger forms — with two leniencies the TAC
exports need: a space instead of ``T`` and an offset without its colon (``+0100``)::

    YYYY-MM-DD(T|t| )hh:mm:ss(.f{1,9})?(Z|z|±hh:mm|±hhmm)

Refused: no zone (a naive value would be a guess), a date alone, seconds left out, week or
ordinal dates, the basic format without separators, hour 24, second 60, an offset of 24 h or
more, non-ASCII digits, surrounding spaces, and years outside 1700-2200 (a typo, and outside the
range a nanosecond column can hold, so the vectorised readers agree with this one). Fractions
beyond microseconds are truncated. Each refusal says why.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

PATTERN: Final = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[Tt ]"
    r"(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,9}))?"
    r"(?P<z>[Zz]|(?P<sign>[+-])(?P<oh>[0-9]{2}):?(?P<om>[0-9]{2}))",
    re.ASCII,
)
MIN_YEAR: Final = 1700
MAX_YEAR: Final = 2200
EXAMPLE: Final = "2026-11-27T02:30:00+00:00"


class OutOfRange(ValueError):
    """A well-formed timestamp whose year lies outside MIN_YEAR-MAX_YEAR."""


def parse_instant(text: str, *, what: str = "timestamp") -> datetime:
    """The aware datetime ``text`` names; ``ValueError`` naming ``what`` and the reason otherwise.

    The result keeps the given offset (``Z`` becomes UTC). Source: DOMAIN.md §0, §7.
    """
    if not isinstance(text, str):
        raise ValueError(f"{what} must be text like {EXAMPLE}, not {type(text).__name__}")
    match = PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"{what} {text!r} is not a date and time with a zone; give e.g. {EXAMPLE}")
    year = int(match["y"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise OutOfRange(f"{what} {text!r}: year {year} is outside {MIN_YEAR}-{MAX_YEAR}")
    if match["sign"]:
        hours, minutes = int(match["oh"]), int(match["om"])
        if hours > 23 or minutes > 59:
            raise ValueError(f"{what} {text!r}: the offset must be below 24 hours")
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if match["sign"] == "-" else 1)
        zone = UTC if not offset else timezone(offset)
    else:
        zone = UTC
    micro = int((match["f"] or "0").ljust(6, "0")[:6])
    try:
        return datetime(
            year,
            int(match["mo"]),
            int(match["d"]),
            int(match["h"]),
            int(match["mi"]),
            int(match["s"]),
            micro,
            tzinfo=zone,
        )
    except ValueError as exc:  # month 13, 31 April, hour 24, second 60 ...
        raise ValueError(f"{what} {text!r} is not a real date and time: {exc}") from None
