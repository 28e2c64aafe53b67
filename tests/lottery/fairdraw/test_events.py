"""events.log: line format, hash chain and the re-offer rules (section 10)."""

import datetime
import hashlib

import pytest

from lottery.fairdraw import (
    FairdrawError,
    Waitlist,
    event_line,
    line_hash,
    log_head,
    next_event_line,
    parse_entries,
    parse_events,
    parse_results,
    parse_slots,
    verify_events,
)

from .vector import ENTRIES_CSV, REPO, RESULTS_CSV, SLOTS_CSV

RANK1 = "2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c1d"  # holds S0001 (TS, P75, Tuesday)
RANK2 = "3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c"  # holds S0003 (NAT)
RANK5 = "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"  # waiting, NAT
RANK7 = "1c9e0d8f7a6b5c4d3e2f1a0b9c8d7e6f"  # waiting, TS, not on Wednesdays
RANK8 = "7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"  # waiting, TS


def _waitlist() -> Waitlist:
    return Waitlist(parse_entries(ENTRIES_CSV), parse_slots(SLOTS_CSV), parse_results(RESULTS_CSV))


def _log(*events: tuple[str, str, str]) -> bytes:
    log = b""
    for minute, (event, slot_id, entry_id) in enumerate(events):
        when = f"2025-06-20T10:{minute:02d}:00Z"
        log += next_event_line(log, when, event, slot_id, entry_id).encode() + b"\n"
    return log


def _verify(log: bytes):
    entries, slots = parse_entries(ENTRIES_CSV), parse_slots(SLOTS_CSV)
    return verify_events(log, entries, slots, parse_results(RESULTS_CSV))


def test_event_line_format_and_hash():
    line = event_line(1, "2025-06-20T10:00:00Z", "cancel", "S0001", RANK1, "")

    assert line == f"1,2025-06-20T10:00:00Z,cancel,S0001,{RANK1},"
    assert line_hash(line) == hashlib.sha256(line.encode()).hexdigest()
    assert line_hash(line + "\n") == line_hash(line)


def test_event_line_accepts_an_aware_datetime_and_drops_fractions():
    moment = datetime.datetime(
        2025, 6, 20, 12, 0, 0, 999999, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )

    line = event_line(1, moment, "cancel", "S0001", RANK1, "")

    assert line.split(",")[1] == "2025-06-20T10:00:00Z"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, "2025-06-20T10:00:00Z", "cancel", "S0001", RANK1, ""), "seq 0"),
        ((1, "2025-06-20 10:00:00", "cancel", "S0001", RANK1, ""), "utc_time"),
        ((1, "2025-06-20T10:00:00Z", "refund", "S0001", RANK1, ""), "event 'refund'"),
        ((1, "2025-06-20T10:00:00Z", "cancel", "s1", RANK1, ""), "slot_id 's1'"),
        ((1, "2025-06-20T10:00:00Z", "cancel", "S0001", "x", ""), "entry_id 'x'"),
        ((1, "2025-06-20T10:00:00Z", "cancel", "S0001", RANK1, "ab"), "prev must be empty"),
        ((2, "2025-06-20T10:00:00Z", "cancel", "S0001", RANK1, ""), "prev ''"),
    ],
)
def test_event_line_refuses_bad_fields(args, message):
    with pytest.raises(FairdrawError, match=r"events\.log line") as raised:
        event_line(*args)

    assert message in str(raised.value)


def test_a_lawful_sequence_of_re_offers_verifies():
    log = _log(
        ("cancel", "S0001", RANK1),
        ("offer", "S0001", RANK7),
        ("decline", "S0001", RANK7),
        ("offer", "S0001", RANK8),
        ("accept", "S0001", RANK8),
        ("cancel", "S0003", RANK2),
        ("offer", "S0003", RANK5),
        ("lapse", "S0003", RANK5),
    )

    summary = _verify(log)

    assert (summary.lines, summary.offers) == (8, 3)
    assert summary.head == log_head(log) == line_hash(log.splitlines()[-1].decode())


def test_chain_links_each_line_to_the_previous_one():
    log = _log(("cancel", "S0001", RANK1), ("offer", "S0001", RANK7))
    first, second = log.decode().splitlines()

    assert first.endswith(",")
    assert second.endswith("," + hashlib.sha256(first.encode()).hexdigest())


def test_offer_skipping_a_better_ranked_entry_is_refused():
    log = _log(("cancel", "S0001", RANK1), ("offer", "S0001", RANK8))

    with pytest.raises(FairdrawError, match=f"line 2: .* skips {RANK7} \\(rank 7\\)"):
        _verify(log)


def test_offer_respects_weekday_exclusions():
    # S0004 is a Wednesday: rank 7 excludes Wednesdays, so rank 8 is the right one.
    waitlist = _waitlist()
    waitlist.apply("cancel", "S0004", "6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d")

    assert waitlist.best_candidate("S0004") == RANK8


def test_excluded_entries_never_come_back():
    waitlist = _waitlist()
    for event in [("cancel", "S0001", RANK1), ("offer", "S0001", RANK7), ("lapse", "S0001", RANK7)]:
        waitlist.apply(*event)

    assert waitlist.best_candidate("S0001") == RANK8


def test_a_drawn_holder_may_let_the_slot_lapse():
    waitlist = _waitlist()

    waitlist.apply("lapse", "S0001", RANK1)

    assert waitlist.is_free("S0001")
    assert waitlist.best_candidate("S0001") == RANK7


def test_no_show_uses_up_the_slot():
    waitlist = _waitlist()
    waitlist.apply("no_show", "S0001", RANK1)

    with pytest.raises(FairdrawError, match="its time has passed"):
        waitlist.apply("offer", "S0001", RANK7)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([("offer", "S0001", RANK7)], "held by"),
        ([("accept", "S0001", RANK7)], "has no open offer"),
        ([("cancel", "S0001", RANK7)], "does not hold"),
        ([("decline", "S0001", RANK7)], "neither holds nor has an open offer"),
        (
            [("cancel", "S0003", RANK2), ("offer", "S0003", RANK5), ("offer", "S0003", RANK5)],
            "already offered",
        ),
        (
            [
                ("cancel", "S0003", RANK2),
                ("offer", "S0003", RANK5),
                ("decline", "S0003", RANK5),
                ("offer", "S0003", RANK5),
            ],
            "no entry was eligible",
        ),
        ([("cancel", "S9999", RANK1)], "slot S9999 is not in slots.csv"),
        ([("cancel", "S0001", "f" * 32)], "is not in results.csv"),
    ],
)
def test_unlawful_events_are_refused(events, message):
    with pytest.raises(FairdrawError, match=r"events\.log line") as raised:
        _verify(_log(*events))

    assert message in str(raised.value)


def test_broken_chain_is_refused():
    log = _log(("cancel", "S0001", RANK1), ("offer", "S0001", RANK7), ("accept", "S0001", RANK7))
    tampered = log.replace(b"10:00:00Z", b"10:00:01Z", 1)

    with pytest.raises(FairdrawError, match="line 2: chain broken"):
        parse_events(tampered)


def test_removed_line_is_refused():
    lines = _log(("cancel", "S0001", RANK1), ("offer", "S0001", RANK7)).splitlines(keepends=True)

    with pytest.raises(FairdrawError, match="line 1: seq is 2"):
        parse_events(lines[1])


def test_time_going_backwards_is_refused():
    first = event_line(1, "2025-06-20T10:00:00Z", "cancel", "S0001", RANK1, "")
    second = event_line(2, "2025-06-20T09:00:00Z", "offer", "S0001", RANK7, line_hash(first))

    with pytest.raises(FairdrawError, match=r"line 2: time .* is before"):
        parse_events(f"{first}\n{second}\n".encode())


def test_empty_log_is_an_empty_chain():
    assert parse_events(b"") == []
    assert log_head(b"") == ""


def test_next_event_line_refuses_going_back_in_time():
    log = _log(("cancel", "S0001", RANK1))

    with pytest.raises(FairdrawError, match="before the last event"):
        next_event_line(log, "2025-06-19T00:00:00Z", "offer", "S0001", RANK7)


def test_the_documented_example_log_verifies_with_its_head():
    log = _log(
        ("cancel", "S0001", RANK1),
        ("offer", "S0001", RANK7),
        ("lapse", "S0001", RANK7),
        ("offer", "S0001", RANK8),
        ("accept", "S0001", RANK8),
    )
    documented = (REPO / "docs" / "draw-spec.md").read_text()
    example = documented.split("Example (the test vector below")[1].split("```")[1].lstrip("\n")
    times = [line.split(",")[1] for line in example.splitlines()]
    rebuilt = b""
    for when, line in zip(times, log.decode().splitlines(), strict=True):
        fields = line.split(",")
        rebuilt += next_event_line(rebuilt, when, *fields[2:5]).encode() + b"\n"

    assert rebuilt.decode() == example
    assert _verify(rebuilt).head == (
        "9032b2cef765ce0bc1d111f0efd25385030c6530d7e433668b06237d32e454d5"
    )
