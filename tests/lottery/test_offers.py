"""Re-offers after the draw: rank order, constraints, lapses, and the events.log chain."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.models import Appointment, AppointmentState, Entry, EntryStatus
from config.errors import Conflict
from lottery import clock, kit, services_offers
from lottery.models import Draw
from tests.lottery.conftest import assert_replays

pytestmark = pytest.mark.django_db


def _slot_weekday(life) -> str:
    return str(life.slots[0].starts_at.astimezone(ZoneInfo("Europe/Paris")).isoweekday())


@pytest.fixture
def drawn(timeline):
    """20 entries, 8 slots on one day; entries 0-9 exclude that day, so they wait."""
    life = timeline(entries=20, slots=8)
    day = _slot_weekday(life)
    Entry.objects.filter(pk__in=[e.pk for e in life.entries[:10]]).update(excluded_weekdays=day)
    life.run_all()
    return life


def _best_waiting(life, slot):
    day = str(slot.starts_at.astimezone(ZoneInfo("Europe/Paris")).isoweekday())
    waiting = Entry.objects.filter(
        window=life.window, status=EntryStatus.WAITING, appointments__isnull=True
    ).order_by("rank")
    return next(e for e in waiting if day not in e.excluded_weekdays)


def _drawn_offer(life):
    return Appointment.objects.filter(entry__window=life.window).order_by("entry__rank").first()


def test_declined_slot_goes_to_best_ranked_compatible_waiting_entry(drawn):
    declined = _drawn_offer(drawn)
    expected = _best_waiting(drawn, declined.slot)
    assert Entry.objects.filter(
        window=drawn.window, status=EntryStatus.WAITING, rank__lt=expected.rank
    ).exists()  # someone better is skipped

    offer = services_offers.decline_offer(appointment_id=declined.pk)

    assert (offer.entry_id, offer.slot_id) == (expected.pk, declined.slot_id)
    assert Entry.objects.get(pk=declined.entry_id).status == EntryStatus.WAITING
    draw = Draw.objects.get(window=drawn.window)
    lines = kit.kit_files(draw)["events.log"].decode().splitlines()
    assert [line.split(",")[2] for line in lines] == ["decline", "offer"]
    assert_replays(kit.kit_files(draw))


def test_lapsed_offer_moves_on_to_the_next(drawn):
    first = services_offers.decline_offer(appointment_id=_drawn_offer(drawn).pk)
    others = Appointment.objects.filter(entry__window=drawn.window, state="offered")
    for other in others.exclude(pk=first.pk):
        services_offers.accept_offer(appointment_id=other.pk)

    with clock.at(first.respond_by + timedelta(seconds=1)):
        lapsed = services_offers.lapse_due_offers()

    first.refresh_from_db()
    second = Appointment.objects.get(slot=first.slot, state=AppointmentState.OFFERED)
    assert (lapsed, first.state) == (1, AppointmentState.LAPSED)
    assert second.entry.rank > first.entry.rank
    assert_replays(kit.kit_files(Draw.objects.get(window=drawn.window)))


def test_accepted_then_cancelled_before_cutoff_is_offered_again(drawn):
    offer = _drawn_offer(drawn)
    services_offers.accept_offer(appointment_id=offer.pk)

    again = services_offers.cancel_appointment(appointment_id=offer.pk)

    assert again is not None and again.slot_id == offer.slot_id
    events = kit.kit_files(Draw.objects.get(window=drawn.window))["events.log"].decode()
    assert [line.split(",")[2] for line in events.splitlines()] == ["cancel", "offer"]
    assert_replays(kit.kit_files(Draw.objects.get(window=drawn.window)))


def test_cancelled_after_cutoff_is_not_offered_again(drawn):
    offer = _drawn_offer(drawn)
    services_offers.accept_offer(appointment_id=offer.pk)

    with clock.at(offer.slot.starts_at - timedelta(hours=1)):
        again = services_offers.cancel_appointment(appointment_id=offer.pk)

    assert again is None
    assert not Appointment.objects.filter(slot=offer.slot, state=AppointmentState.OFFERED).exists()


def test_declining_twice_is_refused(drawn):
    offer = _drawn_offer(drawn)
    services_offers.decline_offer(appointment_id=offer.pk)

    with pytest.raises(Conflict):
        services_offers.decline_offer(appointment_id=offer.pk)


def test_tampered_events_log_fails_the_replay(drawn):
    services_offers.decline_offer(appointment_id=_drawn_offer(drawn).pk)
    files = kit.kit_files(Draw.objects.get(window=drawn.window))
    lines = files["events.log"].decode().splitlines()
    lines[0] = lines[0].replace("decline", "lapse")
    files["events.log"] = ("\n".join(lines) + "\n").encode()

    with pytest.raises(ValueError, match="events"):
        kit.verify_kit(files)


def test_accepting_a_reoffer_is_logged_and_replays(drawn):
    offer = services_offers.decline_offer(appointment_id=_drawn_offer(drawn).pk)

    services_offers.accept_offer(appointment_id=offer.pk)

    files = kit.kit_files(Draw.objects.get(window=drawn.window))
    kinds = [line.split(",")[2] for line in files["events.log"].decode().splitlines()]
    assert kinds == ["decline", "offer", "accept"]
    assert Appointment.objects.get(pk=offer.pk).state == AppointmentState.CONFIRMED
    assert_replays(files)


def test_event_log_head_is_published_once_a_day_and_shown(drawn, client):
    from datetime import date

    from lottery.fairdraw.events import line_hash
    from lottery.models import EventLogHead

    assert services_offers.publish_event_heads(day=date(2030, 1, 1)) == 0  # no event yet
    services_offers.decline_offer(appointment_id=_drawn_offer(drawn).pk)
    draw = Draw.objects.get(window=drawn.window)
    lines = kit.kit_files(draw)["events.log"].decode().splitlines()

    assert services_offers.publish_event_heads(day=date(2030, 1, 1)) == 1
    assert services_offers.publish_event_heads(day=date(2030, 1, 1)) == 0  # once a day
    first = EventLogHead.objects.get(draw=draw)
    assert (first.seq, first.head) == (len(lines), line_hash(lines[-1]))

    still_offered = Appointment.objects.filter(
        entry__window=drawn.window, state=AppointmentState.OFFERED
    ).order_by("entry__rank")
    services_offers.decline_offer(appointment_id=still_offered.first().pk)
    assert services_offers.publish_event_heads(day=date(2030, 1, 2)) == 1
    latest = EventLogHead.objects.get(draw=draw, day=date(2030, 1, 2))
    lines = kit.kit_files(draw)["events.log"].decode().splitlines()
    assert (latest.seq, latest.head) == (len(lines), line_hash(lines[-1]))
    assert latest.head != first.head and latest.seq > first.seq

    page = client.get(f"/draws/{drawn.window.code}/").content.decode()
    assert first.head in page and latest.head in page
