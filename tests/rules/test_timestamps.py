"""rules.timestamps.parse_instant: the one definition of a valid timestamp (table both sides of
every boundary, plus properties)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from di_ops.rules.timestamps import MAX_YEAR, MIN_YEAR, parse_instant

UTC_2026 = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-11-27T02:30:00+00:00", UTC_2026),
        ("2026-11-27T02:30:00Z", UTC_2026),
        ("2026-11-27t02:30:00z", UTC_2026),
        ("2026-11-27 02:30:00Z", UTC_2026),  # TAC exports use a space
        ("2026-11-27T03:30:00+01:00", UTC_2026),
        ("2026-11-27T03:30:00+0100", UTC_2026),  # offset without its colon
        ("2026-11-26T21:30:00-05:00", UTC_2026),
        ("2026-11-27T02:30:00-00:00", UTC_2026),
        ("2026-11-27T02:30:00.5Z", UTC_2026 + timedelta(microseconds=500_000)),
        ("2026-11-27T02:30:00.123456789Z", UTC_2026 + timedelta(microseconds=123_456)),  # truncated
        ("2026-11-28T01:59:00+23:29", UTC_2026),
        ("2028-02-29T00:00:00Z", datetime(2028, 2, 29, tzinfo=UTC)),  # leap day
        ("2026-12-31T23:59:59Z", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (f"{MIN_YEAR}-01-01T00:00:00Z", datetime(MIN_YEAR, 1, 1, tzinfo=UTC)),
        (f"{MAX_YEAR}-12-31T23:59:59Z", datetime(MAX_YEAR, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_accepted(text: str, instant: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == instant and parsed.utcoffset() is not None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-11-27T02:30:00", "not a date and time with a zone"),  # naive: never guessed
        ("27/11/2026", "not a date and time with a zone"),
        ("2026-11-27", "not a date and time with a zone"),
        ("2026-11-27T02:30Z", "not a date and time with a zone"),  # seconds left out
        ("20261127T023000Z", "not a date and time with a zone"),  # basic format
        ("2026-W48-5T02:30:00Z", "not a date and time with a zone"),  # week date
        ("2026-331T02:30:00Z", "not a date and time with a zone"),  # ordinal date
        (" 2026-11-27T02:30:00Z", "not a date and time with a zone"),
        ("2026-11-27T02:30:00Z ", "not a date and time with a zone"),
        ("2026-11-27T02:30:00+01", "not a date and time with a zone"),
        ("2026-11-27T02:30:00.Z", "not a date and time with a zone"),
        ("2026-11-27T02:30:00.1234567890Z", "not a date and time with a zone"),  # 10 fraction digits
        ("２０２６-11-27T02:30:00Z", "not a date and time with a zone"),  # full-width digits
        ("2026-11-27T02:30:00+24:00", "offset must be below 24 hours"),
        ("2026-11-27T02:30:00+23:60", "offset must be below 24 hours"),
        ("2026-11-27T24:00:00Z", "not a real date and time"),
        ("2026-11-27T23:59:60Z", "not a real date and time"),  # leap second
        ("2026-04-31T00:00:00Z", "not a real date and time"),
        ("2026-02-29T00:00:00Z", "not a real date and time"),
        ("2026-13-01T00:00:00Z", "not a real date and time"),
        (f"{MIN_YEAR - 1}-12-31T23:59:59Z", "outside"),
        (f"{MAX_YEAR + 1}-01-01T00:00:00Z", "outside"),
        ("", "not a date and time with a zone"),
    ],
)
def test_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse_instant(text, what="as_of")
    assert str(caught.value).startswith("as_of ")  # the message names what was being read


@pytest.mark.parametrize("value", [None, 1700, datetime(2026, 1, 1, tzinfo=UTC)])
def test_non_text_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="must be text"):
        parse_instant(value)  # type: ignore[arg-type]


@given(
    st.datetimes(
        min_value=datetime(MIN_YEAR, 1, 2),
        max_value=datetime(MAX_YEAR, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=45))]),
    )
)
@example(datetime(2026, 3, 29, 1, 0, tzinfo=UTC))
def test_round_trip_of_isoformat(moment: datetime) -> None:
    """What ``isoformat`` writes (the pipelines' own files) reads back as the same instant and offset."""
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    parsed = parse_instant(text)
    assert parsed == moment and parsed.utcoffset() == moment.utcoffset()


@given(st.text(max_size=40))
def test_never_anything_but_an_aware_datetime_or_value_error(text: str) -> None:
    try:
        parsed = parse_instant(text)
    except ValueError:
        return
    assert parsed.tzinfo is not None and MIN_YEAR <= parsed.year <= MAX_YEAR
