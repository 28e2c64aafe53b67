"""UTC instants as the kit writes them: ISO 8601 with a ``Z`` (``2025-06-11T12:00:00Z``)."""

import datetime
import re

from .errors import FairdrawError

_UTC_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def parse_utc(value: object, what: str) -> datetime.datetime:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` to an aware UTC datetime; FairdrawError otherwise."""
    if not isinstance(value, str) or not _UTC_RE.fullmatch(value):
        raise FairdrawError(
            f"{what}: {value!r} is not a UTC time written YYYY-MM-DDTHH:MM:SSZ "
            "(optionally with up to 6 decimals of seconds)"
        )
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        raise FairdrawError(f"{what}: {value!r} is not a valid date and time") from None


def format_utc(moment: datetime.datetime, *, whole_seconds: bool = False) -> str:
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` in UTC.

    With ``whole_seconds`` the fraction is dropped (truncated, never rounded up), as events.log
    requires. Naive datetimes are refused: a wrong time zone would silently move a deadline.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise FairdrawError(f"{moment!r} has no time zone; give an aware datetime")
    moment = moment.astimezone(datetime.UTC)
    if whole_seconds or not moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def unix_seconds_ceil(moment: datetime.datetime) -> int:
    """Unix time of ``moment`` rounded up to a whole second."""
    delta = moment - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    return seconds + (1 if delta.microseconds else 0)
