"""Carry-over of waiting entries into the next window, with fresh ids and more weight."""

from datetime import timedelta

import pytest
from django.db.models import Max
from django.utils import timezone

from accounts.models import AuditEvent
from booking.models import Entry, EntryStatus, WindowState
from booking.services import tick_windows
from lottery import clock, services, services_carry
from lottery.fairdraw import canonical
from lottery.models import Draw
from tests.factories import WindowFactory

pytestmark = pytest.mark.django_db


def _two_windows(timeline, arrange=None):
    life = timeline(entries=12, slots=4)
    if arrange is not None:
        arrange(life)
    life.run_all()
    now = timezone.now()
    nxt = WindowFactory(prefecture=life.window.prefecture, procedures=[life.procedure],
                        opens_at=now - timedelta(days=1), closes_at=now - timedelta(hours=1),
                        freeze_at=now - timedelta(hours=1), reveal_deadline=now + timedelta(days=1),
                        state=WindowState.OPEN)  # fmt: skip
    services.announce_draw(window_id=nxt.pk)
    return life, nxt


@pytest.fixture
def two_windows(timeline):
    return _two_windows(timeline)


def _after_last_slot(life):
    return life.window.slots.aggregate(last=Max("starts_at"))["last"]


def test_waiting_entries_are_not_carried_while_reoffers_can_reach_them(two_windows):
    life, nxt = two_windows

    assert services_carry.carry_over(window_id=life.window_id) == 0
    assert not nxt.entries.exists()


def test_waiting_entries_move_with_fresh_ids_and_weight_two(two_windows):
    life, nxt = two_windows
    waiting = list(Entry.objects.filter(window=life.window, status=EntryStatus.WAITING))
    withdrawn = waiting.pop()
    Entry.objects.filter(pk=withdrawn.pk).update(status=EntryStatus.WITHDRAWN)

    with clock.at(_after_last_slot(life)):
        moved = services_carry.carry_over(window_id=life.window_id)
        again = services_carry.carry_over(window_id=life.window_id)

    carried = {e.carried_from_id: e for e in nxt.entries.all()}
    assert (moved, again) == (len(waiting), 0)
    assert set(carried) == {e.pk for e in waiting}
    assert all(carried[e.pk].entry_id != e.entry_id for e in waiting)
    assert all(carried[e.pk].person_id == e.person_id for e in waiting)
    tick_windows()
    with clock.at(nxt.freeze_at + timedelta(minutes=1)):
        services.freeze_draw(window_id=nxt.pk)
    frozen = canonical.parse_entries(bytes(Draw.objects.get(window=nxt).entries_csv))
    assert {e.weight for e in frozen} == {2}
    assert len(frozen) == len(waiting)


def _site_codes(entry) -> list[str]:
    return sorted(site.code for site in entry.sites.all())


def test_carry_over_in_batches_moves_each_entry_once_with_its_sites(timeline, monkeypatch):
    def with_sites(life):  # before the freeze: after it, an entry's sites never change
        for i, entry in enumerate(life.entries):
            entry.sites.set(life.sites[: i % 3])  # none, GRENOBLE, or GRENOBLE and VIENNE

    life, nxt = _two_windows(timeline, with_sites)
    waiting = list(
        Entry.objects.filter(window=life.window, status=EntryStatus.WAITING).prefetch_related(
            "sites"
        )
    )
    monkeypatch.setattr(services_carry, "BATCH_SIZE", 3)

    with clock.at(_after_last_slot(life)):
        moved = services_carry.carry_over(window_id=life.window_id)

    assert moved == len(waiting) == 8
    carried = {e.carried_from_id: e for e in nxt.entries.prefetch_related("sites")}
    # 8 of the 12 wait and only 4 entries have no site: some carried entries have sites.
    assert {pk: _site_codes(e) for pk, e in carried.items()} == {
        e.pk: _site_codes(e) for e in waiting
    }
    assert len({e.entry_id for e in carried.values()}) == 8
    assert not Entry.objects.filter(window=life.window, status=EntryStatus.WAITING).exists()
    assert AuditEvent.objects.filter(action="entries.carried").count() == 3  # 3 + 3 + 2


def test_carry_over_stops_at_its_time_budget_and_the_next_run_goes_on(two_windows, monkeypatch):
    life, nxt = two_windows
    monkeypatch.setattr(services_carry, "BATCH_SIZE", 3)

    with clock.at(_after_last_slot(life)):
        first = services_carry.carry_over(window_id=life.window_id, time_budget=0)
        second = services_carry.carry_over(window_id=life.window_id)

    assert (first, second) == (0, 8)
    assert nxt.entries.count() == 8


def test_an_entry_a_constraint_refuses_stays_waiting_and_the_others_move(two_windows, monkeypatch):
    life, nxt = two_windows
    waiting = list(Entry.objects.filter(window=life.window, status=EntryStatus.WAITING))
    blocked = waiting[3]
    real_successor = services_carry._successor

    def successor(old, target):
        # The rules leave no constraint for a successor to break; make one break anyway.
        fresh = real_successor(old, target)
        if old.pk == blocked.pk:
            fresh.excluded_weekdays = "99"
        return fresh

    monkeypatch.setattr(services_carry, "_successor", successor)
    with clock.at(_after_last_slot(life)):
        moved = services_carry.carry_over(window_id=life.window_id)

    assert moved == 7
    assert Entry.objects.get(pk=blocked.pk).status == EntryStatus.WAITING
    assert set(nxt.entries.values_list("carried_from_id", flat=True)) == {
        e.pk for e in waiting if e.pk != blocked.pk
    }
