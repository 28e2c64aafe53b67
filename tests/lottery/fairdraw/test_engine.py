"""Keys, order and assignment (FAIRDRAW-1 sections 7 to 9) on hand-made cases."""

import hashlib
import hmac

import pytest

from lottery.fairdraw import Entry, Slot, draw, entry_keys
from lottery.fairdraw.engine import assign, canonical_slots, order

TUESDAY, WEDNESDAY, THURSDAY = "2025-07-01", "2025-07-02", "2025-07-03"


def _id(n: int) -> str:
    return f"{n:032x}"


def _reference_key(key: bytes, entry: Entry) -> bytes:
    prefix = len(entry.entry_id).to_bytes(4, "big") + entry.entry_id.encode()
    return max(
        hmac.new(key, prefix + j.to_bytes(4, "big"), hashlib.sha256).digest()
        for j in range(1, entry.weight + 1)
    )


def test_entry_keys_equal_plain_hmac_maximum():
    key = hashlib.sha256(b"K").digest()
    entries = [Entry(_id(n), 1, 1 + n % 4, "TS") for n in range(40)]

    assert entry_keys(entries, key) == [_reference_key(key, entry) for entry in entries]


def test_order_is_tier_then_key_descending_then_entry_id():
    entries = [Entry(_id(n), tier, 1, "TS") for n, tier in enumerate([1, 1, 0, 1, 1])]
    keys = [b"\x05", b"\x09", b"\x01", b"\x09", b"\x07"]

    assert order(entries, keys) == [2, 1, 3, 4, 0]


def test_order_breaks_key_ties_by_entry_id_even_for_unsorted_input():
    entries = [Entry(_id(9), 1, 1, "TS"), Entry(_id(3), 1, 1, "TS"), Entry(_id(5), 1, 1, "TS")]

    assert order(entries, [b"\x01", b"\x01", b"\x01"]) == [1, 2, 0]


def _slot(slot_id: str, date: str, site: str = "P75", procedure: str = "TS") -> Slot:
    return Slot(slot_id, site, procedure, date, "09:00")


def test_assignment_takes_the_earliest_compatible_slot():
    slots = canonical_slots(
        [_slot("C", THURSDAY), _slot("A", TUESDAY, "P92"), _slot("B", WEDNESDAY)]
    )
    entries = [
        Entry(_id(0), 1, 1, "TS", ("P75",)),  # skips A (site P92)
        Entry(_id(1), 1, 1, "TS", (), (2,)),  # skips A (Tuesday), B is gone: C
        Entry(_id(2), 1, 1, "TS"),  # A is the only one left
        Entry(_id(3), 1, 1, "TS"),  # nothing left
    ]

    given = assign(entries, slots, [0, 1, 2, 3])

    assert [slots[i].slot_id if i >= 0 else None for i in given] == ["B", "C", "A", None]


def test_assignment_respects_procedure():
    slots = [_slot("A", TUESDAY, procedure="NAT")]
    entries = [Entry(_id(0), 1, 1, "TS"), Entry(_id(1), 1, 1, "NAT")]

    assert assign(entries, slots, [0, 1]) == [-1, 0]


def test_assignment_follows_rank_not_input_order():
    slots = [_slot("A", TUESDAY)]
    entries = [Entry(_id(0), 1, 1, "TS"), Entry(_id(1), 1, 1, "TS")]

    assert assign(entries, slots, [1, 0]) == [-1, 0]


def test_entry_with_every_weekday_excluded_gets_nothing():
    slots = [_slot("A", TUESDAY)]

    assert assign([Entry(_id(0), 1, 1, "TS", (), (1, 2, 3, 4, 5, 6, 7))], slots, [0]) == [-1]


def test_draw_with_no_entries_or_no_slots():
    seed = bytes(32)

    assert draw([], [_slot("A", TUESDAY)], seed).csv() == b"rank,entry_id,tier,weight,key,slot_id\n"
    assert [row.slot_id for row in draw([Entry(_id(0), 1, 1, "TS")], [], seed)] == [None]


def test_results_sequence_behaves_like_a_list():
    entries = [Entry(_id(n), 1, 1, "TS") for n in range(5)]
    results = draw(entries, [_slot("A", TUESDAY)], bytes(32))
    rows = list(results)

    assert len(results) == 5
    assert results[-1] == rows[-1]
    assert results[1:3] == rows[1:3]
    assert results == rows
    assert [row.rank for row in results] == [1, 2, 3, 4, 5]
    assert results.slots_given == 1


def test_result_columns_are_the_rows_transposed():
    entries = [
        Entry(_id(n), n % 2, 1 + n % 4, "TS", sites=("P75",) if n % 3 else ()) for n in range(40)
    ]
    results = draw(entries, [_slot("A", TUESDAY), _slot("B", TUESDAY)], bytes(range(32)))

    columns = results.columns()

    assert list(zip(range(1, 41), *columns, strict=True)) == list(map(tuple, results))
    assert sum(slot is not None for slot in columns.slot_id) == results.slots_given == 2


def test_weights_outside_one_to_four_are_refused():
    with pytest.raises(ValueError, match="1, 2, 3 or 4"):
        entry_keys([Entry(_id(0), 1, 5, "TS")], bytes(32))
