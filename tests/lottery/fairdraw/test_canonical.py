"""entries.csv, slots.csv and results.csv: strict parsing, canonical writing."""

import datetime

import pytest

from lottery.fairdraw import (
    Entry,
    FairdrawError,
    Slot,
    entries_csv,
    parse_entries,
    parse_results,
    parse_slots,
    slots_csv,
)

from .vector import ENTRIES_CSV, RESULTS_CSV, SLOTS_CSV

ENTRIES_HEADER = b"entry_id,tier,weight,procedure,sites,excluded_weekdays\n"
SLOTS_HEADER = b"slot_id,site,procedure,date,start\n"
ID_A = "0b3f6c2a9d1e4f5a8b7c6d5e4f3a2b1c"
ID_B = "1c9e0d8f7a6b5c4d3e2f1a0b9c8d7e6f"


def test_entries_round_trip_is_byte_identical():
    assert entries_csv(parse_entries(ENTRIES_CSV)) == ENTRIES_CSV


def test_slots_round_trip_is_byte_identical():
    assert slots_csv(parse_slots(SLOTS_CSV)) == SLOTS_CSV


def test_entries_writer_sorts_rows_and_sets():
    entries = list(reversed(parse_entries(ENTRIES_CSV)))
    entries[0] = entries[0]._replace(sites=("P92", "P75", "P92"), excluded_weekdays=(3, 1, 3))

    written = entries_csv(entries)

    assert written.splitlines()[-1] == b"7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f,1,2,TS,P75|P92,13"


def test_slots_writer_accepts_date_and_time_objects():
    slot = Slot("S1", "P75", "TS", datetime.date(2025, 7, 1), datetime.time(9, 5, 30))

    assert slots_csv([slot]) == SLOTS_HEADER + b"S1,P75,TS,2025-07-01,09:05\n"


def test_parsed_entry_fields_are_typed():
    entry = parse_entries(ENTRIES_CSV)[2]

    assert entry == Entry("2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c1d", 0, 1, "TS", ("P75", "P92"), ())
    assert parse_entries(ENTRIES_CSV)[6].excluded_weekdays == (2, 4, 5)


def test_header_only_files_are_empty_lists():
    assert parse_entries(ENTRIES_HEADER) == []
    assert parse_slots(SLOTS_HEADER) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "entries.csv: empty file"),
        (b"\xef\xbb\xbf" + ENTRIES_HEADER, "byte order mark"),
        (ENTRIES_HEADER.replace(b"\n", b"\r\n"), "line 1: carriage return"),
        (ENTRIES_HEADER + f"{ID_A},1,1,TS,,".encode(), "line 2: no \\n after the last line"),
        (ENTRIES_HEADER + b"\n", "line 2: empty line"),
        (b"entry_id,tier,weight,procedure,sites\n", "line 1: header is"),
        (ENTRIES_HEADER + f"{ID_A},1,1,TS,,\xe9\n".encode("latin-1"), "line 2: non-ASCII"),
        (ENTRIES_HEADER + f"{ID_A},1,1,TS\n".encode(), "expected 6 comma-separated fields"),
        (ENTRIES_HEADER + f"{ID_A.upper()},1,1,TS,,\n".encode(), "not 32 lowercase hex"),
        (ENTRIES_HEADER + f"{ID_A},01,1,TS,,\n".encode(), "tier '01' is not a single digit"),
        (ENTRIES_HEADER + f"{ID_A},1,0,TS,,\n".encode(), "weight '0' is not 1, 2, 3 or 4"),
        (ENTRIES_HEADER + f"{ID_A},1,1,ts,,\n".encode(), "procedure 'ts'"),
        (ENTRIES_HEADER + f"{ID_A},1,1,TS,P92|P75,\n".encode(), "not in ascending byte order"),
        (ENTRIES_HEADER + f"{ID_A},1,1,TS,P75|P75,\n".encode(), "without duplicates"),
        (ENTRIES_HEADER + f"{ID_A},1,1,TS,P75|,\n".encode(), "site ''"),
        (ENTRIES_HEADER + f"{ID_A},1,1,TS,,8\n".encode(), "weekday digits 1-7"),
        (ENTRIES_HEADER + f"{ID_A},1,1,TS,,21\n".encode(), "not ascending"),
        (ENTRIES_HEADER + f"{ID_A},1,1,TS,, \n".encode(), "line 2"),
        (ENTRIES_HEADER + f"{ID_B},1,1,TS,,\n{ID_A},1,1,TS,,\n".encode(), "must be sorted"),
        (ENTRIES_HEADER + f"{ID_A},1,1,TS,,\n{ID_A},1,2,TS,,\n".encode(), "duplicate entry_id"),
    ],
)
def test_malformed_entries_are_refused_with_file_and_line(data, message):
    with pytest.raises(FairdrawError) as raised:
        parse_entries(data)

    assert message in str(raised.value)
    assert str(raised.value).startswith("entries.csv")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (b"S1,P75,TS,2025-02-30,09:00", "not a valid calendar date"),
        (b"S1,P75,TS,2025-2-03,09:00", "date '2025-2-03' is not YYYY-MM-DD"),
        (b"S1,P75,TS,2025-02-03,24:00", "not a time between 00:00 and 23:59"),
        (b"S1,P75,TS,2025-02-03,9:00", "start '9:00' is not HH:MM"),
        (b"S-1,P75,TS,2025-02-03,09:00", "slot_id 'S-1'"),
        (b"S1,P75,TS,2025-02-03,09:00,X", "expected 5 comma-separated fields"),
    ],
)
def test_malformed_slots_are_refused(row, message):
    with pytest.raises(FairdrawError, match=r"slots\.csv line 2") as raised:
        parse_slots(SLOTS_HEADER + row + b"\n")

    assert message in str(raised.value)


def test_slots_out_of_canonical_order_are_refused():
    rows = b"S2,P92,TS,2025-07-01,09:00\nS1,P75,TS,2025-07-01,09:00\n"

    with pytest.raises(FairdrawError, match="line 3: slot S1 is out of canonical order"):
        parse_slots(SLOTS_HEADER + rows)


def test_duplicate_slot_ids_are_refused_even_when_far_apart():
    rows = b"S1,P75,TS,2025-07-01,09:00\nS2,P75,TS,2025-07-01,10:00\nS1,P75,TS,2025-07-02,09:00\n"

    with pytest.raises(FairdrawError, match="line 4: duplicate slot_id S1"):
        parse_slots(SLOTS_HEADER + rows)


def test_slot_order_compares_fields_not_whole_lines():
    # By whole lines "S10,..." < "S9,..." would not follow (date, start, site, slot_id).
    rows = b"B,P75,TS,2025-07-01,09:00\nA,P76,TS,2025-07-01,09:00\n"

    assert [slot.slot_id for slot in parse_slots(SLOTS_HEADER + rows)] == ["B", "A"]


def test_writer_refuses_values_that_break_the_format():
    entry = Entry("not-hex", 1, 1, "TS")

    with pytest.raises(FairdrawError, match="entry_id 'not-hex'"):
        entries_csv([entry])


def test_writer_refuses_a_string_for_the_sites_sequence():
    with pytest.raises(FairdrawError, match="must be sequences"):
        entries_csv([Entry(ID_A, 1, 1, "TS", "P75")])


def test_results_parse_gives_none_for_unassigned():
    rows = parse_results(RESULTS_CSV)

    assert [row.slot_id for row in rows][4:] == [None, "S0004", None, None]
    assert rows[0].key.hex().startswith("2518d082")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ((b"\n2,", b"\n3,"), "rank 3 on row 2"),
        ((b",S0003\n", b",S0001\n"), "slot S0001 given twice"),
        ((b"3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c", b"2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c1d"), "duplicate"),
        ((b",2518d082", b",2518D082"), "malformed row"),
    ],
)
def test_malformed_results_are_refused(change, message):
    with pytest.raises(FairdrawError, match=r"results\.csv line") as raised:
        parse_results(RESULTS_CSV.replace(*change, 1))

    assert message in str(raised.value)
