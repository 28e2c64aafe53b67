"""The canonical text files of FAIRDRAW-1 section 3: entries.csv, slots.csv and results.csv.

Parsers are strict: a file is accepted only if writing back what was read gives the same bytes,
so a digest always identifies exactly one list. Writers canonicalise (sort rows, sort the site and
weekday sets) and then run the parser over their own output, so they never emit a file that the
parser (or an auditor) would refuse.
"""

import datetime
import gc
import re
from collections.abc import Iterable
from contextlib import contextmanager
from itertools import pairwise
from operator import attrgetter, itemgetter
from typing import NamedTuple

from .errors import FairdrawError

ENTRIES_HEADER = "entry_id,tier,weight,procedure,sites,excluded_weekdays"
SLOTS_HEADER = "slot_id,site,procedure,date,start"
RESULTS_HEADER = "rank,entry_id,tier,weight,key,slot_id"

CODE_RE = re.compile(r"[A-Z0-9_]{1,32}")
ENTRY_ID_RE = re.compile(r"[0-9a-f]{32}")

_ENTRY_ROW = re.compile(r"([0-9a-f]{32}),([0-9]),([1-4]),([A-Z0-9_]{1,32}),([A-Z0-9_|]*),([1-7]*)")
_SLOT_ROW = re.compile(
    r"([A-Z0-9_]{1,32}),([A-Z0-9_]{1,32}),([A-Z0-9_]{1,32}),([0-9]{4}-[0-9]{2}-[0-9]{2}),"
    r"([0-9]{2}:[0-9]{2})"
)
_RESULT_ROW = re.compile(
    r"([1-9][0-9]*),([0-9a-f]{32}),([0-9]),([1-4]),([0-9a-f]{64}),((?:[A-Z0-9_]{1,32})?)"
)
_DIGITS = {str(d): d for d in range(10)}


class Entry(NamedTuple):
    """One row of entries.csv. ``sites`` empty means any site; weekdays are ISO (1 = Monday)."""

    entry_id: str
    tier: int
    weight: int
    procedure: str
    sites: tuple[str, ...] = ()
    excluded_weekdays: tuple[int, ...] = ()


class Slot(NamedTuple):
    """One row of slots.csv: ``date`` is ``YYYY-MM-DD`` and ``start`` is ``HH:MM``, local time."""

    slot_id: str
    site: str
    procedure: str
    date: str
    start: str


class ResultRow(NamedTuple):
    """One row of results.csv: ``key`` is 32 raw bytes, ``slot_id`` is None when unassigned."""

    rank: int
    entry_id: str
    tier: int
    weight: int
    key: bytes
    slot_id: str | None


class _FieldError(Exception):
    """A field is wrong; the caller adds the file name and line number."""


def text_lines(name: str, data: bytes, header: str | None) -> list[str]:
    """Check the section 1 rules for a published text file and return its lines.

    ASCII only, no BOM, ``\\n`` line ends, a ``\\n`` after the last line, no empty line. When
    ``header`` is given, line 1 must be exactly that header. Lines are returned without their
    ``\\n`` (header included).
    """
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"{name}: expected bytes, got {type(data).__name__}")
    if data.startswith(b"\xef\xbb\xbf"):
        raise FairdrawError(f"{name}: starts with a byte order mark (BOM); remove it")
    if not data.isascii():
        at = next(i for i, b in enumerate(data) if b > 0x7F)
        raise FairdrawError(f"{name} line {_line_of(data, at)}: non-ASCII byte 0x{data[at]:02x}")
    if b"\r" in data:
        at = data.index(b"\r")
        raise FairdrawError(
            f"{name} line {_line_of(data, at)}: carriage return found; "
            "lines must end with \\n only (no CRLF)"
        )
    if not data:
        what = f"the header {header!r}" if header else "at least one line"
        raise FairdrawError(f"{name}: empty file; expected {what}")
    if not data.endswith(b"\n"):
        last = data.count(b"\n") + 1
        raise FairdrawError(f"{name} line {last}: no \\n after the last line")
    lines = data.decode("ascii").split("\n")[:-1]
    if "" in lines:
        raise FairdrawError(f"{name} line {lines.index('') + 1}: empty line")
    if header is not None and lines[0] != header:
        raise FairdrawError(f"{name} line 1: header is {lines[0]!r}, expected {header!r}")
    return lines


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _fail(name: str, lineno: int, message: str) -> FairdrawError:
    return FairdrawError(f"{name} line {lineno}: {message}")


# entries.csv ---------------------------------------------------------------------------------


def parse_entries(data: bytes, name: str = "entries.csv") -> list[Entry]:
    """Parse and validate entries.csv bytes (sorted by entry_id, no duplicates)."""
    lines = text_lines(name, data, ENTRIES_HEADER)
    sites_cache: dict[str, tuple[str, ...]] = {}
    days_cache: dict[str, tuple[int, ...]] = {}
    codes: dict[str, str] = {}  # one string object per procedure code, not one per row
    entries: list[Entry] = []
    append = entries.append
    previous = ""
    with gc_paused():
        for lineno, line in enumerate(lines[1:], start=2):
            try:
                match = _ENTRY_ROW.fullmatch(line)
                if match is None:
                    _explain_entry(line)
                entry_id, tier, weight, procedure, sites, days = match.groups()
                if entry_id <= previous:
                    _unsorted("entry_id", entry_id, previous)
                site_tuple = sites_cache.get(sites)
                if site_tuple is None:
                    site_tuple = sites_cache[sites] = _parse_sites(sites)
                day_tuple = days_cache.get(days)
                if day_tuple is None:
                    day_tuple = days_cache[days] = _parse_weekdays(days)
            except _FieldError as error:
                raise _fail(name, lineno, str(error)) from None
            previous = entry_id
            procedure = codes.setdefault(procedure, procedure)
            append(
                Entry(entry_id, _DIGITS[tier], _DIGITS[weight], procedure, site_tuple, day_tuple)
            )
    return entries


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector (restored on exit).

    Parsing or drawing a million rows allocates millions of objects that all stay alive; the
    collector's repeated scans of them would cost more than the work itself. Nothing here
    creates reference cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _unsorted(field: str, value: str, previous: str) -> None:
    if value == previous:
        raise _FieldError(f"duplicate {field} {value}")
    raise _FieldError(f"{field} {value} is not after {previous}: rows must be sorted by {field}")


def _explain_entry(line: str) -> None:
    fields = line.split(",")
    if len(fields) != 6:
        raise _FieldError(f"expected 6 comma-separated fields, found {len(fields)}")
    entry_id, tier, weight, procedure, sites, days = fields
    if not ENTRY_ID_RE.fullmatch(entry_id):
        raise _FieldError(f"entry_id {entry_id!r} is not 32 lowercase hex characters")
    if tier not in _DIGITS:
        raise _FieldError(f"tier {tier!r} is not a single digit 0-9")
    if weight not in ("1", "2", "3", "4"):
        raise _FieldError(f"weight {weight!r} is not 1, 2, 3 or 4")
    _check_code("procedure", procedure)
    _parse_sites(sites)
    _parse_weekdays(days)
    raise _FieldError(f"malformed row {line!r}")  # pragma: no cover (every field was checked)


def _check_code(field: str, value: str) -> None:
    if not CODE_RE.fullmatch(value):
        raise _FieldError(f"{field} {value!r} does not match [A-Z0-9_]{{1,32}}")


def _parse_sites(field: str) -> tuple[str, ...]:
    if field == "":
        return ()
    parts = field.split("|")
    for part in parts:
        _check_code("site", part)
    if any(a >= b for a, b in pairwise(parts)):
        raise _FieldError(f"sites {field!r} are not in ascending byte order without duplicates")
    return tuple(parts)


def _parse_weekdays(field: str) -> tuple[int, ...]:
    if any(c not in "1234567" for c in field):
        raise _FieldError(f"excluded_weekdays {field!r} may only hold ISO weekday digits 1-7")
    if any(a >= b for a, b in pairwise(field)):
        raise _FieldError(f"excluded_weekdays {field!r} are not ascending without duplicates")
    return tuple(int(c) for c in field)


def entries_csv(entries: Iterable[Entry]) -> bytes:
    """Write canonical entries.csv bytes: rows sorted by entry_id, site and weekday sets sorted.

    Raises FairdrawError if any value would break section 2/3 (the output is re-parsed).
    """
    lines = [ENTRIES_HEADER]
    for entry in sorted(entries, key=attrgetter("entry_id")):
        if isinstance(entry.sites, str) or isinstance(entry.excluded_weekdays, str):
            raise FairdrawError(f"entry {entry.entry_id}: sites and weekdays must be sequences")
        sites = "|".join(sorted(set(entry.sites)))
        days = "".join(str(day) for day in sorted(set(entry.excluded_weekdays)))
        lines.append(
            f"{entry.entry_id},{entry.tier},{entry.weight},{entry.procedure},{sites},{days}"
        )
    data = _encode("entries.csv", lines)
    parse_entries(data, name="entries.csv (as written)")
    return data


def _encode(name: str, lines: list[str]) -> bytes:
    text = "\n".join(lines) + "\n"
    try:
        return text.encode("ascii")
    except UnicodeEncodeError as error:
        lineno = text.count("\n", 0, error.start) + 1
        raise FairdrawError(f"{name} line {lineno}: non-ASCII character") from None


# slots.csv -----------------------------------------------------------------------------------


def parse_slots(data: bytes, name: str = "slots.csv") -> list[Slot]:
    """Parse and validate slots.csv bytes (canonical slot order, unique slot_id)."""
    lines = text_lines(name, data, SLOTS_HEADER)
    slots: list[Slot] = []
    seen: set[str] = set()
    checked_dates: set[str] = set()
    previous: tuple[str, str, str, str] = ("", "", "", "")
    with gc_paused():
        for lineno, line in enumerate(lines[1:], start=2):
            try:
                slot = _parse_slot(line, checked_dates, seen, previous)
            except _FieldError as error:
                raise _fail(name, lineno, str(error)) from None
            seen.add(slot.slot_id)
            previous = slot_order_key(slot)
            slots.append(slot)
    return slots


def _parse_slot(line: str, checked_dates: set[str], seen: set[str], previous: tuple) -> "Slot":
    match = _SLOT_ROW.fullmatch(line)
    if match is None:
        _explain_slot(line)
    slot = Slot(*match.groups())
    if slot.date not in checked_dates:
        _check_date(slot.date)
        checked_dates.add(slot.date)
    _check_start(slot.start)
    if slot.slot_id in seen:
        raise _FieldError(f"duplicate slot_id {slot.slot_id}")
    if slot_order_key(slot) <= previous:
        raise _FieldError(
            f"slot {slot.slot_id} is out of canonical order (date, start, site, slot_id)"
        )
    return slot


def slot_order_key(slot: Slot) -> tuple[str, str, str, str]:
    """The canonical slot order of section 3 (ASCII strings compare as bytes)."""
    return (slot.date, slot.start, slot.site, slot.slot_id)


def _explain_slot(line: str) -> None:
    fields = line.split(",")
    if len(fields) != 5:
        raise _FieldError(f"expected 5 comma-separated fields, found {len(fields)}")
    slot_id, site, procedure, date, start = fields
    _check_code("slot_id", slot_id)
    _check_code("site", site)
    _check_code("procedure", procedure)
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", date):
        raise _FieldError(f"date {date!r} is not YYYY-MM-DD")
    raise _FieldError(f"start {start!r} is not HH:MM")


def _check_date(value: str) -> None:
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise _FieldError(f"date {value!r} is not a valid calendar date") from None


def _check_start(value: str) -> None:
    if int(value[:2]) > 23 or int(value[3:]) > 59:
        raise _FieldError(f"start {value!r} is not a time between 00:00 and 23:59")


def weekday(date: str) -> int:
    """ISO weekday (1 = Monday ... 7 = Sunday) of a ``YYYY-MM-DD`` proleptic Gregorian date."""
    return datetime.date.fromisoformat(date).isoweekday()


def slots_csv(slots: Iterable[Slot]) -> bytes:
    """Write canonical slots.csv bytes (rows in canonical slot order).

    ``date`` and ``start`` may be given as ``datetime.date`` / ``datetime.time`` objects.
    Raises FairdrawError if any value would break section 2/3.
    """
    rows = [_slot_strings(slot) for slot in slots]
    rows.sort(key=slot_order_key)
    lines = [SLOTS_HEADER]
    lines.extend(",".join(row) for row in rows)
    data = _encode("slots.csv", lines)
    parse_slots(data, name="slots.csv (as written)")
    return data


def _slot_strings(slot: Slot) -> Slot:
    date, start = slot.date, slot.start
    if isinstance(date, datetime.date):
        date = date.isoformat()
    if isinstance(start, datetime.time):
        start = f"{start.hour:02d}:{start.minute:02d}"
    return Slot(str(slot.slot_id), str(slot.site), str(slot.procedure), date, start)


# results.csv ---------------------------------------------------------------------------------


def parse_results(data: bytes, name: str = "results.csv") -> list[ResultRow]:
    """Parse and validate results.csv bytes (ranks 1..N in order, entries and slots unique).

    This checks the format only; whether the rows are the right ones is for the replay.
    """
    lines = text_lines(name, data, RESULTS_HEADER)
    rows: list[ResultRow] = []
    entry_ids: set[str] = set()
    slot_ids: set[str] = set()
    with gc_paused():
        for lineno, line in enumerate(lines[1:], start=2):
            try:
                row = _parse_result(line, lineno - 1, entry_ids, slot_ids)
            except _FieldError as error:
                raise _fail(name, lineno, str(error)) from None
            entry_ids.add(row.entry_id)
            if row.slot_id:
                slot_ids.add(row.slot_id)
            rows.append(row)
    return rows


def _parse_result(line: str, number: int, entry_ids: set[str], slot_ids: set[str]) -> ResultRow:
    match = _RESULT_ROW.fullmatch(line)
    if match is None:
        raise _FieldError(
            f"malformed row {line!r}: expected rank,entry_id(32 hex),tier(0-9),"
            "weight(1-4),key(64 hex),slot_id(empty or [A-Z0-9_]{1,32})"
        )
    rank, entry_id, tier, weight, key, slot_id = match.groups()
    if int(rank) != number:
        raise _FieldError(f"rank {rank} on row {number}: ranks must be 1, 2, 3, ...")
    if entry_id in entry_ids:
        raise _FieldError(f"duplicate entry_id {entry_id}")
    if slot_id in slot_ids:
        raise _FieldError(f"slot {slot_id} given twice")
    return ResultRow(number, entry_id, int(tier), int(weight), bytes.fromhex(key), slot_id or None)


def results_csv(rows: Iterable[ResultRow]) -> bytes:
    """Write results.csv bytes from rows in rank order (as returned by ``draw``).

    Built column by column with C-level maps: about four times faster than one f-string per
    row, which matters for a million rows.
    """
    if hasattr(rows, "csv"):
        return rows.csv()  # engine.Results: the fast path
    rows = list(rows)
    empty = {None: ""}
    columns = [
        map(str, map(itemgetter(0), rows)),
        map(itemgetter(1), rows),
        map(str, map(itemgetter(2), rows)),
        map(str, map(itemgetter(3), rows)),
        map(bytes.hex, map(itemgetter(4), rows)),
        map(empty.get, map(itemgetter(5), rows), map(itemgetter(5), rows)),
    ]
    lines = [RESULTS_HEADER, *map(",".join, zip(*columns, strict=True)), ""]
    return "\n".join(lines).encode("ascii")
