"""Property-based tests of the draw (hypothesis), against a naive reading of the text."""

import datetime
import hashlib
import hmac
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from lottery.fairdraw import (
    Entry,
    Slot,
    draw,
    entries_csv,
    parse_entries,
    parse_slots,
    slots_csv,
)
from lottery.fairdraw.canonical import slot_order_key, weekday

from .vector import REPO

PROCEDURES = ("NAT", "TS")
SITES = ("P75", "P92", "P93")
DAY0 = datetime.date(2025, 7, 1)

entry_ids = st.binary(min_size=16, max_size=16).map(bytes.hex)
entry_fields = st.tuples(
    st.integers(0, 2),
    st.integers(1, 4),
    st.sampled_from(PROCEDURES),
    st.sets(st.sampled_from(SITES), max_size=2).map(lambda s: tuple(sorted(s))),
    st.one_of(st.just(()), st.sets(st.integers(1, 7), max_size=3).map(lambda s: tuple(sorted(s)))),
)


@st.composite
def entry_lists(draw_from, max_size=40):
    ids = draw_from(st.lists(entry_ids, unique=True, max_size=max_size))
    return [Entry(entry_id, *draw_from(entry_fields)) for entry_id in ids]


@st.composite
def slot_lists(draw_from, max_size=30):
    count = draw_from(st.integers(0, max_size))
    slots = []
    for n in range(count):
        day = DAY0 + datetime.timedelta(days=draw_from(st.integers(0, 13)))
        start = draw_from(st.sampled_from(("09:00", "09:30", "14:00")))
        site, procedure = draw_from(st.sampled_from(SITES)), draw_from(st.sampled_from(PROCEDURES))
        slots.append(Slot(f"S{n:03d}", site, procedure, day.isoformat(), start))
    return slots


seeds = st.binary(min_size=32, max_size=32)


def _compatible(entry: Entry, slot: Slot) -> bool:
    return (
        slot.procedure == entry.procedure
        and weekday(slot.date) not in entry.excluded_weekdays
        and (not entry.sites or slot.site in entry.sites)
    )


def _naive_draw(entries, slots, seed):
    """Sections 7 to 9 read literally: hmac.new, one sort with a tuple key, a linear scan."""
    k = hmac.new(seed, b"FAIRDRAW-1/ticket-key", hashlib.sha256).digest()

    def key(entry):
        lp = len(entry.entry_id).to_bytes(4, "big") + entry.entry_id.encode()
        tickets = [hmac.new(k, lp + j.to_bytes(4, "big"), hashlib.sha256).digest()
                   for j in range(1, entry.weight + 1)]  # fmt: skip
        return max(tickets)

    keyed = [(entry, key(entry)) for entry in entries]
    keyed.sort(key=lambda pair: pair[0].entry_id)
    keyed.sort(key=lambda pair: pair[1], reverse=True)
    keyed.sort(key=lambda pair: pair[0].tier)
    free = sorted(slots, key=slot_order_key)
    rows = []
    for rank, (entry, entry_key) in enumerate(keyed, start=1):
        slot = next((s for s in free if _compatible(entry, s)), None)
        if slot is not None:
            free.remove(slot)
        rows.append(
            (rank, entry.entry_id, entry.tier, entry.weight, entry_key, slot and slot.slot_id)
        )
    return rows


@given(entry_lists(), slot_lists(), seeds)
def test_draw_equals_the_naive_reading_of_the_specification(entries, slots, seed):
    assert [tuple(row) for row in draw(entries, slots, seed)] == _naive_draw(entries, slots, seed)


@given(entry_lists(), slot_lists(), st.randoms(use_true_random=False))
def test_shuffled_rows_give_identical_canonical_bytes(entries, slots, rnd):
    shuffled_entries, shuffled_slots = entries[:], slots[:]
    rnd.shuffle(shuffled_entries)
    rnd.shuffle(shuffled_slots)

    assert entries_csv(shuffled_entries) == entries_csv(entries)
    assert slots_csv(shuffled_slots) == slots_csv((entries and slots) or slots)
    assert parse_entries(entries_csv(shuffled_entries)) == sorted(entries)


@given(entry_lists(), slot_lists(), seeds)
def test_each_slot_and_each_entry_at_most_once(entries, slots, seed):
    results = list(draw(entries, slots, seed))
    given_slots = [row.slot_id for row in results if row.slot_id is not None]

    assert len(given_slots) == len(set(given_slots))
    assert sorted(row.entry_id for row in results) == sorted(entry.entry_id for entry in entries)
    assert [row.rank for row in results] == list(range(1, len(entries) + 1))


@given(entry_lists(), slot_lists(), seeds)
def test_assignments_respect_procedure_sites_and_weekdays(entries, slots, seed):
    by_id = {entry.entry_id: entry for entry in entries}
    slot_by_id = {slot.slot_id: slot for slot in slots}

    for row in draw(entries, slots, seed):
        if row.slot_id is not None:
            assert _compatible(by_id[row.entry_id], slot_by_id[row.slot_id])


@given(entry_lists(), slot_lists(), seeds)
def test_no_waiting_entry_has_a_compatible_free_slot(entries, slots, seed):
    results = list(draw(entries, slots, seed))
    taken = {row.slot_id for row in results}
    free = [slot for slot in slots if slot.slot_id not in taken]
    by_id = {entry.entry_id: entry for entry in entries}

    for row in results:
        if row.slot_id is None:
            assert not any(_compatible(by_id[row.entry_id], slot) for slot in free)


@given(entry_lists(), slot_lists(), seeds)
@settings(max_examples=30)
def test_canonical_round_trip_draws_the_same(entries, slots, seed):
    reparsed = draw(parse_entries(entries_csv(entries)), parse_slots(slots_csv(slots)), seed)

    assert reparsed.csv() == draw(entries, slots, seed).csv()


_SUBPROCESS_DRAW = """
import datetime, hashlib, random, sys
from lottery.fairdraw import Entry, Slot, draw
rnd = random.Random(7)
sites = ("P75", "P92", "P93")
entries = [
    Entry(hashlib.sha256(b"%d" % i).hexdigest()[:32], rnd.randrange(2), rnd.randint(1, 4),
          rnd.choice(("NAT", "TS")), tuple(sorted(rnd.sample(sites, rnd.randrange(3)))),
          tuple(sorted(rnd.sample(range(1, 8), rnd.randrange(3)))))
    for i in range(3000)
]
day = datetime.date(2025, 7, 1)
slots = [Slot("S%04d" % n, rnd.choice(sites), rnd.choice(("NAT", "TS")),
              (day + datetime.timedelta(days=rnd.randrange(20))).isoformat(), "09:00")
         for n in range(700)]
sys.stdout.write(hashlib.sha256(draw(entries, slots, bytes(32)).csv()).hexdigest())
"""


def test_same_results_under_any_hash_seed():
    digests = {
        subprocess.run(
            [sys.executable, "-c", _SUBPROCESS_DRAW],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": ""},
        ).stdout
        for hash_seed in ("0", "1", "4242", "random")
    }

    assert len(digests) == 1
    assert len(digests.pop()) == 64


def test_same_results_in_process_and_in_a_subprocess():
    namespace: dict = {}
    lines = _SUBPROCESS_DRAW.replace("sys.stdout.write(", "result = (")
    exec(compile(lines, "<draw>", "exec"), namespace)  # noqa: S102 (our own fixed code)
    child = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS_DRAW],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    )

    assert namespace["result"] == child.stdout
