"""Freeze: tiers and weights by the published rules, files in byte order."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.models import AppointmentState, EntryStatus
from lottery import blobs
from lottery.fairdraw import canonical
from lottery.fairdraw.errors import FairdrawError
from lottery.models import Draw
from tests.factories import (
    AppointmentFactory,
    EntryFactory,
    ProcedureFactory,
    SlotFactory,
    WindowFactory,
)

pytestmark = pytest.mark.django_db


def _earlier(life, *, status=EntryStatus.CARRIED, weight=1, procedure=None):
    window = WindowFactory(
        prefecture=life.window.prefecture, procedures=[procedure or life.procedure]
    )
    return EntryFactory(
        window=window, procedure=procedure or life.procedure, status=status, weight=weight
    )


def _carried(life, prev):
    if prev is None:
        return EntryFactory(window=life.window, procedure=life.procedure)
    return EntryFactory(
        window=life.window, procedure=life.procedure, person=prev.person, carried_from=prev
    )


def _frozen_entries(life):
    life.close_and_freeze()
    data = bytes(Draw.objects.get(window=life.window).entries_csv)
    return {entry.entry_id: entry for entry in canonical.parse_entries(data)}


def test_freeze_weight_grows_with_consecutive_draws_without_a_slot(timeline):
    life = timeline(entries=0)
    cases = {
        "first time": (None, 1),
        "one miss": (_earlier(life, weight=1), 2),
        "three misses": (_earlier(life, weight=3), 4),
        "capped": (_earlier(life, weight=4), 4),
    }
    entries = {name: _carried(life, prev) for name, (prev, _) in cases.items()}

    frozen = _frozen_entries(life)

    assert {name: frozen[e.entry_id].weight for name, e in entries.items()} == {
        name: weight for name, (_, weight) in cases.items()
    }
    entries["one miss"].refresh_from_db()
    assert entries["one miss"].weight == 2


def test_freeze_weight_resets_after_a_declined_offer_or_no_show(timeline):
    life = timeline(entries=0)
    declined = _earlier(life, weight=3)
    no_show = _earlier(life, weight=2)
    for prev, state in ((declined, AppointmentState.DECLINED), (no_show, AppointmentState.NO_SHOW)):
        AppointmentFactory(entry=prev, slot=SlotFactory(window=prev.window), state=state)
    news = [
        EntryFactory(window=life.window, procedure=life.procedure, person=p.person, carried_from=p)
        for p in (declined, no_show)
    ]

    frozen = _frozen_entries(life)

    assert [frozen[e.entry_id].weight for e in news] == [1, 1]


def test_freeze_weight_ignores_another_procedure(timeline):
    life = timeline(entries=0)
    other = _earlier(life, weight=2, procedure=ProcedureFactory(prefecture=life.window.prefecture))
    entry = EntryFactory(
        window=life.window, procedure=life.procedure, person=other.person, carried_from=other
    )

    assert _frozen_entries(life)[entry.entry_id].weight == 1


def test_freeze_tier_zero_for_urgent_cases(timeline):
    life = timeline(entries=0)
    # The rule counts from the close's date in Europe/Paris (between 23:00 and 00:00 UTC it
    # is not the UTC date).
    closes = life.window.closes_at.astimezone(ZoneInfo("Europe/Paris")).date()
    limit = closes + timedelta(days=life.window.urgency_days)
    cases = {
        "approved": (dict(urgent_approved=True), 0),
        "expired": (dict(permit_expires_on=limit - timedelta(days=90)), 0),
        "expires on the limit": (dict(permit_expires_on=limit), 0),
        "expires after": (dict(permit_expires_on=limit + timedelta(days=1)), 1),
        "unknown": ({}, 1),
    }
    entries = {
        name: EntryFactory(window=life.window, procedure=life.procedure, **fields)
        for name, (fields, _) in cases.items()
    }

    frozen = _frozen_entries(life)

    assert {n: frozen[e.entry_id].tier for n, e in entries.items()} == {
        n: tier for n, (_, tier) in cases.items()
    }


def test_freeze_files_list_registered_entries_and_slots_in_byte_order(timeline):
    life = timeline(entries=5, slots=3)
    EntryFactory(window=life.window, procedure=life.procedure, status=EntryStatus.PENDING)
    life.entries[0].sites.set([life.sites[1]])
    life.entries[0].excluded_weekdays = "15"
    life.entries[0].save()

    life.close_and_freeze()

    draw = Draw.objects.get(window=life.window)
    entries = canonical.parse_entries(bytes(draw.entries_csv))
    slots = canonical.parse_slots(bytes(draw.slots_csv))
    assert [e.entry_id for e in entries] == sorted(e.entry_id for e in life.entries)
    first = next(e for e in entries if e.entry_id == life.entries[0].entry_id)
    assert (first.sites, first.excluded_weekdays) == (("VIENNE",), (1, 5))
    local = life.slots[0].starts_at.astimezone(ZoneInfo("Europe/Paris"))
    assert slots[0] == canonical.Slot(
        "S0000", "GRENOBLE", "RENEWAL", local.date().isoformat(), local.strftime("%H:%M")
    )
    assert draw.counts["entries"] == 5 and draw.counts["slots"] == 3


def test_bytes_refused_by_the_strict_parser_undo_the_whole_freeze(timeline, monkeypatch):
    """The store (tier write-backs, files) runs beside the parse check: a refusal by the
    parser must take the stored rows back with it."""
    life = timeline(entries=0)
    urgent = EntryFactory(window=life.window, procedure=life.procedure, urgent_approved=True)

    def refuse(data, name="entries.csv"):
        raise FairdrawError(f"{name}: refused for the test")

    monkeypatch.setattr("lottery.services.canonical.parse_entries", refuse)
    with pytest.raises(FairdrawError):
        life.close_and_freeze()
    monkeypatch.undo()

    draw = Draw.objects.get(window=life.window)
    assert (draw.state, draw.frozen_at, draw.entries_digest) == ("announced", None, "")
    assert blobs.read(draw, "entries_csv", "slots_csv") == (None, None)
    urgent.refresh_from_db()
    assert urgent.tier == 1  # the write-back to tier 0 was rolled back
    life.close_and_freeze()
    urgent.refresh_from_db()
    assert urgent.tier == 0 and Draw.objects.get(window=life.window).state == "frozen"
