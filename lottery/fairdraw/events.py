"""events.log (FAIRDRAW-1 section 10): the hash chain of re-offers and its replay.

A line is ``seq,utc_time,event,slot_id,entry_id,prev``: ``seq`` counts from 1, ``utc_time`` is
``YYYY-MM-DDTHH:MM:SSZ``, ``prev`` is empty on line 1 and otherwise ``line_hash`` of the line
before, that is the hex SHA-256 of its bytes without the ``\\n``. The file has no header and
follows the text rules of section 1. ``Waitlist`` holds the semantics of the six events (see
docs/draw-spec.md); an auditor replays the log through it to check every offer.
"""

import datetime
import hashlib
import re
from collections.abc import Sequence
from typing import NamedTuple

from .canonical import CODE_RE, ENTRY_ID_RE, Entry, ResultRow, Slot, text_lines, weekday
from .errors import FairdrawError
from .times import format_utc

EVENTS = ("offer", "accept", "decline", "lapse", "cancel", "no_show")
_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_HASH_RE = re.compile(r"[0-9a-f]{64}")
_LINE_RE = re.compile(
    r"([1-9][0-9]*),([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z),"
    r"(offer|accept|decline|lapse|cancel|no_show),([A-Z0-9_]{1,32}),([0-9a-f]{32}),"
    r"((?:[0-9a-f]{64})?)"
)


class Event(NamedTuple):
    seq: int
    utc_time: str
    event: str
    slot_id: str
    entry_id: str
    prev: str


def line_hash(line: str) -> str:
    """Hex SHA-256 of a log line's ASCII bytes, without its ``\\n`` (one is stripped if given)."""
    if line.endswith("\n"):
        line = line[:-1]
    return hashlib.sha256(line.encode("ascii")).hexdigest()


def event_line(
    seq: int,
    utc_time: str | datetime.datetime,
    event: str,
    slot_id: str,
    entry_id: str,
    prev_hex: str,
) -> str:
    """One events.log line, without its ``\\n``; every field is checked.

    ``utc_time`` may be an aware datetime (fractions of a second are dropped). ``prev_hex``
    is ``""`` for ``seq == 1`` and ``line_hash(previous line)`` after that.
    """
    if isinstance(utc_time, datetime.datetime):
        utc_time = format_utc(utc_time, whole_seconds=True)
    line = f"{seq},{utc_time},{event},{slot_id},{entry_id},{prev_hex}"
    try:
        _check_fields(Event(seq, utc_time, event, slot_id, entry_id, prev_hex), line)
    except ValueError as error:
        raise FairdrawError(f"events.log line {seq}: {error}") from None
    return line


def next_event_line(
    log: bytes, utc_time: str | datetime.datetime, event: str, slot_id: str, entry_id: str
) -> str:
    """The line to append to the existing ``log`` bytes (seq and prev computed from its end).

    Only the chain is checked here; check the waitlist rules with ``Waitlist`` beforehand.
    """
    if isinstance(utc_time, datetime.datetime):
        utc_time = format_utc(utc_time, whole_seconds=True)
    events = parse_events(log)
    if not events:
        return event_line(1, utc_time, event, slot_id, entry_id, "")
    last = log[:-1].rsplit(b"\n", 1)[-1].decode("ascii")
    if utc_time < events[-1].utc_time:
        raise FairdrawError(
            f"events.log: {utc_time} is before the last event {events[-1].utc_time}"
        )
    return event_line(len(events) + 1, utc_time, event, slot_id, entry_id, line_hash(last))


def _check_fields(event: Event, line: str) -> None:
    if isinstance(event.seq, bool) or not isinstance(event.seq, int) or event.seq < 1:
        raise ValueError(f"seq {event.seq!r} is not a positive integer")
    if not isinstance(event.utc_time, str) or not _TIME_RE.fullmatch(event.utc_time):
        raise ValueError(f"utc_time {event.utc_time!r} is not YYYY-MM-DDTHH:MM:SSZ")
    try:
        datetime.datetime.fromisoformat(event.utc_time[:-1])  # without "Z", as Python 3.10 needs
    except ValueError:
        raise ValueError(f"utc_time {event.utc_time!r} is not a valid date and time") from None
    if event.event not in EVENTS:
        raise ValueError(f"event {event.event!r} is not one of {', '.join(EVENTS)}")
    if not isinstance(event.slot_id, str) or not CODE_RE.fullmatch(event.slot_id):
        raise ValueError(f"slot_id {event.slot_id!r} does not match [A-Z0-9_]{{1,32}}")
    if not isinstance(event.entry_id, str) or not ENTRY_ID_RE.fullmatch(event.entry_id):
        raise ValueError(f"entry_id {event.entry_id!r} is not 32 lowercase hex characters")
    if event.seq == 1 and event.prev != "":
        raise ValueError("prev must be empty on line 1")
    if event.seq > 1 and not (isinstance(event.prev, str) and _HASH_RE.fullmatch(event.prev)):
        raise ValueError(f"prev {event.prev!r} is not 64 lowercase hex characters")
    if not _LINE_RE.fullmatch(line):  # pragma: no cover (implied by the checks above)
        raise ValueError(f"malformed line {line!r}")


def parse_events(data: bytes, name: str = "events.log") -> list[Event]:
    """Parse events.log and check its hash chain: seq 1, 2, 3..., prev links, time order.

    An empty file is an empty log. Raises FairdrawError naming the first bad line.
    """
    if data == b"":
        return []
    lines = text_lines(name, data, None)
    events: list[Event] = []
    previous_line = ""
    for number, line in enumerate(lines, start=1):
        fields = line.split(",")
        if len(fields) != 6:
            raise FairdrawError(
                f"{name} line {number}: expected 6 comma-separated fields, found {len(fields)}"
            )
        seq = int(fields[0]) if fields[0].isdigit() and fields[0][0] != "0" else fields[0]
        event = Event(seq, *fields[1:])
        try:
            _check_fields(event, line)
        except ValueError as error:
            raise FairdrawError(f"{name} line {number}: {error}") from None
        if event.seq != number:
            raise FairdrawError(f"{name} line {number}: seq is {event.seq}, expected {number}")
        if number > 1 and event.prev != line_hash(previous_line):
            raise FairdrawError(
                f"{name} line {number}: chain broken: prev is {event.prev}, but line "
                f"{number - 1} hashes to {line_hash(previous_line)}"
            )
        if events and event.utc_time < events[-1].utc_time:
            raise FairdrawError(
                f"{name} line {number}: time {event.utc_time} is before the previous line's "
                f"{events[-1].utc_time}"
            )
        events.append(event)
        previous_line = line
    return events


class Waitlist:
    """The state of slots and waiting entries after the draw, moved by events.

    Start: each slot given in results.csv is held by its entry; every other slot is free; the
    waitlist is the entries without a slot in results.csv, in rank order. ``apply`` enforces
    the rules of docs/draw-spec.md ("Re-offers") and raises FairdrawError when an event breaks
    them; ``best_candidate`` is the entry that the next offer of a slot must go to.
    """

    def __init__(
        self, entries: Sequence[Entry], slots: Sequence[Slot], results: Sequence[ResultRow]
    ) -> None:
        self._slot = {
            slot.slot_id: (slot.procedure, slot.site, weekday(slot.date)) for slot in slots
        }
        entry_by_id = {entry.entry_id: entry for entry in entries}
        self._rank: dict[str, int] = {}
        self._holder: dict[str, str] = {}  # slot_id -> entry_id
        self._pending: dict[str, str] = {}  # slot_id -> entry_id with an open offer
        self._offered: set[str] = set()  # every entry that ever received an offer
        self._excluded: set[str] = set()
        self._used: set[str] = set()  # slots whose time passed with a no-show
        pools: dict[tuple, list[str]] = {}
        for row in results:
            entry = entry_by_id.get(row.entry_id)
            if entry is None:
                raise FairdrawError(f"results.csv: entry {row.entry_id} is not in entries.csv")
            self._rank[row.entry_id] = row.rank
            if row.slot_id is None:
                key = (entry.procedure, entry.sites, entry.excluded_weekdays)
                pools.setdefault(key, []).append(row.entry_id)
            elif row.slot_id not in self._slot:
                raise FairdrawError(f"results.csv: slot {row.slot_id} is not in slots.csv")
            else:
                self._holder[row.slot_id] = row.entry_id
        # One rank-ordered waiting list per (procedure, sites, excluded weekdays), with a cursor.
        self._pools = [(key, waiting, [0]) for key, waiting in pools.items()]

    def best_candidate(self, slot_id: str) -> str | None:
        """The best-ranked waiting entry eligible for ``slot_id`` (None if there is none).

        Eligible: on the waitlist, compatible with the slot (section 9) and never offered a
        slot since the draw. For a waiting entry "never offered" is the same as "not excluded,
        not holding, no pending offer", because every way out of the waitlist starts with an
        offer; eligibility only ever ends, so each cursor only moves forward.
        """
        procedure, site, day = self._slot_info(slot_id)
        best: str | None = None
        for (entry_procedure, sites, excluded), waiting, cursor in self._pools:
            if entry_procedure != procedure or day in excluded or (sites and site not in sites):
                continue
            while cursor[0] < len(waiting) and not self._eligible(waiting[cursor[0]]):
                cursor[0] += 1
            if cursor[0] < len(waiting):
                head = waiting[cursor[0]]
                if best is None or self._rank[head] < self._rank[best]:
                    best = head
        return best

    def _eligible(self, entry_id: str) -> bool:
        return entry_id not in self._offered and entry_id not in self._excluded

    def holder(self, slot_id: str) -> str | None:
        """The entry holding ``slot_id`` now (drawn or accepted), if any."""
        return self._holder.get(slot_id)

    def pending(self, slot_id: str) -> str | None:
        """The entry with an open offer of ``slot_id``, if any."""
        return self._pending.get(slot_id)

    def is_free(self, slot_id: str) -> bool:
        """True if ``slot_id`` may be offered now (not held, not used, no open offer)."""
        self._slot_info(slot_id)
        return not (slot_id in self._holder or slot_id in self._pending or slot_id in self._used)

    def apply(self, event: str, slot_id: str, entry_id: str) -> None:
        """Move the state by one event; FairdrawError if the event breaks the rules."""
        self._slot_info(slot_id)
        if entry_id not in self._rank:
            raise FairdrawError(f"entry {entry_id} is not in results.csv")
        handler = {
            "offer": self._offer,
            "accept": self._accept,
            "decline": self._give_up,
            "lapse": self._give_up,
            "cancel": self._cancel,
            "no_show": self._no_show,
        }.get(event)
        if handler is None:
            raise FairdrawError(f"unknown event {event!r}")
        handler(event, slot_id, entry_id)

    def _slot_info(self, slot_id: str) -> tuple[str, str, int]:
        info = self._slot.get(slot_id)
        if info is None:
            raise FairdrawError(f"slot {slot_id} is not in slots.csv")
        return info

    def _offer(self, event: str, slot_id: str, entry_id: str) -> None:
        if slot_id in self._used:
            raise FairdrawError(f"offer of slot {slot_id}: its time has passed (no_show)")
        if slot_id in self._holder:
            raise FairdrawError(f"offer of slot {slot_id}: held by {self._holder[slot_id]}")
        if slot_id in self._pending:
            raise FairdrawError(
                f"offer of slot {slot_id}: already offered to {self._pending[slot_id]}"
            )
        best = self.best_candidate(slot_id)
        if best != entry_id:
            raise FairdrawError(self._wrong_offer(slot_id, entry_id, best))
        self._pending[slot_id] = entry_id
        self._offered.add(entry_id)

    def _wrong_offer(self, slot_id: str, entry_id: str, best: str | None) -> str:
        rank = self._rank[entry_id]
        if best is None:
            return (
                f"offer of slot {slot_id} to {entry_id} (rank {rank}): no entry was eligible "
                "for it (waiting, compatible and never offered)"
            )
        return (
            f"offer of slot {slot_id} to {entry_id} (rank {rank}) skips {best} "
            f"(rank {self._rank[best]}), the best-ranked eligible entry"
        )

    def _accept(self, event: str, slot_id: str, entry_id: str) -> None:
        if self._pending.get(slot_id) != entry_id:
            raise FairdrawError(f"accept: {entry_id} has no open offer of slot {slot_id}")
        del self._pending[slot_id]
        self._holder[slot_id] = entry_id

    def _give_up(self, event: str, slot_id: str, entry_id: str) -> None:
        if self._pending.get(slot_id) == entry_id:
            del self._pending[slot_id]
        elif self._holder.get(slot_id) == entry_id:
            del self._holder[slot_id]
        else:
            raise FairdrawError(
                f"{event}: {entry_id} neither holds nor has an open offer of slot {slot_id}"
            )
        self._excluded.add(entry_id)

    def _cancel(self, event: str, slot_id: str, entry_id: str) -> None:
        if self._holder.get(slot_id) != entry_id:
            raise FairdrawError(f"{event}: {entry_id} does not hold slot {slot_id}")
        del self._holder[slot_id]
        self._excluded.add(entry_id)

    def _no_show(self, event: str, slot_id: str, entry_id: str) -> None:
        self._cancel(event, slot_id, entry_id)
        self._used.add(slot_id)


class EventsSummary(NamedTuple):
    lines: int
    offers: int
    head: str  # line_hash of the last line, "" for an empty log


def check_offers(
    events: Sequence[Event],
    entries: Sequence[Entry],
    slots: Sequence[Slot],
    results: Sequence[ResultRow],
    name: str = "events.log",
) -> int:
    """Replay parsed events through ``Waitlist``; the number of offers, all to the right entry."""
    waitlist = Waitlist(entries, slots, results)
    for event in events:
        try:
            waitlist.apply(event.event, event.slot_id, event.entry_id)
        except FairdrawError as error:
            raise FairdrawError(f"{name} line {event.seq}: {error}") from None
    return sum(1 for event in events if event.event == "offer")


def log_head(data: bytes) -> str:
    """``line_hash`` of the last line of a log (the daily published head), "" if empty."""
    if not data:
        return ""
    return line_hash(data[:-1].rsplit(b"\n", 1)[-1].decode("ascii"))


def verify_events(
    data: bytes,
    entries: Sequence[Entry],
    slots: Sequence[Slot],
    results: Sequence[ResultRow],
    name: str = "events.log",
) -> EventsSummary:
    """Check the chain, then replay every event through ``Waitlist`` (section 11 step 6)."""
    events = parse_events(data, name)
    offers = check_offers(events, entries, slots, results, name)
    return EventsSummary(len(events), offers, log_head(data))
