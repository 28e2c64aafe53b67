"""UTC instants as the kit writes them: ISO 8601 with a ``Z`` (``2025-06-11T12:00:00Z``)."""

import datetime
import re

from .errors import FairdrawError

_UTC_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z")
# timezone.utc rather than datetime.UTC (3.11+): this package also runs as the kit's replay.py,
# which promises Python 3.10.
_UTC = datetime.timezone.utc
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=_UTC)


def parse_utc(value: object, what: str) -> datetime.datetime:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` to an aware UTC datetime; FairdrawError otherwise."""
    if not isinstance(value, str) or not _UTC_RE.fullmatch(value):
        raise FairdrawError(
            f"{what}: {value!r} is not a UTC time written YYYY-MM-DDTHH:MM:SSZ "
            "(optionally with up to 6 decimals of seconds)"
        )
    # Python 3.10's fromisoformat takes neither "Z" nor 1, 2, 4 or 5 decimals: write the same
    # instant as "+00:00" with 6 decimals, which every version reads alike.
    seconds, dot, fraction = value[:-1].partition(".")
    text = seconds + ("." + fraction.ljust(6, "0") if dot else "") + "+00:00"
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise FairdrawError(f"{what}: {value!r} is not a valid date and time") from None


def format_utc(moment: datetime.datetime, *, whole_seconds: bool = False) -> str:
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` in UTC.

    With ``whole_seconds`` the fraction is dropped (truncated, never rounded up), as events.log
    requires. Naive datetimes are refused: a wrong time zone would silently move a deadline.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise FairdrawError(f"{moment!r} has no time zone; give an aware datetime")
    moment = moment.astimezone(_UTC)
    if whole_seconds or not moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def unix_seconds_ceil(moment: datetime.datetime) -> int:
    """Unix time of ``moment`` rounded up to a whole second."""
    delta = moment - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    return seconds + (1 if delta.microseconds else 0)
