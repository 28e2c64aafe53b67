"""Lapses in batches: the same offers and the same events.log as lapsing one by one, only for
published draws, with the answer time counted from publication, and a message per re-offer."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from accounts.models import OutboxMessage, User
from booking.models import Appointment, AppointmentState, Entry
from config.errors import Conflict
from lottery import clock, kit, services, services_offers
from lottery.models import Draw, DrawEvent, DrawState
from tests.conftest import run_concurrently
from tests.factories import ContactFactory
from tests.lottery.conftest import assert_replays

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


class _Rollback(Exception):
    pass


def _mixed(timeline):
    """40 entries, 12 slots over two days and two sites, entries with site and weekday wishes
    that make many of them incompatible with many slots; drawn and published."""
    life = timeline(entries=40, slots=12)
    for slot in life.slots[6:]:
        slot.starts_at += timedelta(days=1)
        slot.save(update_fields=["starts_at"])
    first_day = str(life.slots[0].starts_at.astimezone(PARIS).isoweekday())
    grenoble, vienne = life.sites
    for i, entry in enumerate(life.entries):
        if i % 3 == 0:
            entry.sites.set([grenoble])
        elif i % 3 == 1:
            entry.sites.set([vienne])
        if i % 4 == 0:
            Entry.objects.filter(pk=entry.pk).update(excluded_weekdays=first_day)
    life.run_all()
    return life


def _savepoint():
    """A savepoint the services' durable transactions may run inside, like the test's own
    (Django lets durable blocks nest only in a test case's atomic blocks)."""
    block = transaction.atomic()
    block._from_testcase = True
    return block


def _state(life) -> tuple:
    draw = Draw.objects.get(window=life.window)
    appointments = sorted(
        Appointment.objects.filter(slot__window=life.window).values_list(
            "slot__code", "entry__entry_id", "state"
        )
    )
    statuses = dict(Entry.objects.filter(window=life.window).values_list("entry_id", "status"))
    lines = list(DrawEvent.objects.filter(draw=draw).order_by("seq").values_list("line", flat=True))
    return lines, appointments, statuses


def test_a_batch_gives_the_offers_and_the_log_of_lapsing_one_by_one(timeline):
    life = _mixed(timeline)
    due = Appointment.objects.filter(slot__window=life.window, state=AppointmentState.OFFERED)
    # Six offers end, some with many compatible waiting entries, some with few.
    services_offers.accept_offer(appointment_id=due.order_by("pk")[6].pk)
    n = due.count()
    later = due.order_by("pk").first().respond_by + timedelta(seconds=1)

    with clock.at(later):
        try:
            with _savepoint():
                one_by_one = [
                    services_offers.lapse_batch(window_id=life.window_id, limit=1)
                    for _ in range(n + 1)
                ]
                expected = _state(life)
                raise _Rollback
        except _Rollback:
            pass
        assert one_by_one == [1] * n + [0]
        assert _state(life) != expected  # rolled back: nothing lapsed yet

        assert services_offers.lapse_batch(window_id=life.window_id, limit=n + 5) == n

    lines, appointments, statuses = _state(life)
    assert (lines, appointments, statuses) == expected
    kinds = [line.split(",")[2] for line in lines]
    assert kinds.count("lapse") == n and kinds.count("offer") >= 1
    assert_replays(kit.kit_files(Draw.objects.get(window=life.window)))


def test_the_tick_lapses_in_batches_within_its_time_budget(timeline):
    life = _mixed(timeline)
    offered = Appointment.objects.filter(slot__window=life.window, state=AppointmentState.OFFERED)
    n = offered.count()
    later = offered.first().respond_by + timedelta(seconds=1)

    with clock.at(later):
        assert services_offers.lapse_due_offers(batch_size=2, time_budget=0) == 0
        assert offered.count() == n  # no batch started once the budget is spent
        assert services_offers.lapse_due_offers(batch_size=2, time_budget=60) == n

    assert Appointment.objects.filter(slot__window=life.window, state="lapsed").count() == n
    assert_replays(kit.kit_files(Draw.objects.get(window=life.window)))


def test_offers_of_an_unpublished_draw_neither_lapse_nor_can_be_answered(timeline):
    life = timeline(entries=12, slots=4)
    life.close_and_freeze()
    life.reveal_operator()
    life.draw()
    offer = Appointment.objects.filter(slot__window=life.window).first()
    long_after = offer.respond_by + timedelta(days=3)  # e.g. a held draw under review

    with clock.at(long_after):
        assert services_offers.lapse_due_offers() == 0
        with pytest.raises(Conflict) as refused:
            services_offers.decline_offer(appointment_id=offer.pk)
        assert refused.value.code == "not_published"
        services.publish_draw(window_id=life.window_id)

    offer.refresh_from_db()
    assert offer.state == AppointmentState.OFFERED
    hours = life.window.offer_hours
    assert offer.respond_by == long_after + timedelta(hours=hours)  # counted from publication
    assert Draw.objects.get(window=life.window).state == DrawState.PUBLISHED
    with clock.at(long_after + timedelta(hours=hours, seconds=1)):
        assert services_offers.lapse_due_offers() >= 1


@pytest.mark.parametrize("kind", ["phone", "email"])
def test_a_reoffer_tells_its_person_the_slot_and_the_deadline(timeline, settings, kind):
    settings.SITE_URL = "https://rdv.fr"  # a short address, as for the outcome messages
    life = timeline(entries=20, slots=4)
    contacts = {}
    for i, entry in enumerate(life.entries):
        user = User.objects.create_user(username=f"applicant{i}")
        if kind == "phone":
            contact = ContactFactory(user=user)
        else:
            contact = ContactFactory(user=user, kind="email", value=f"p{i}@example.org")
        Entry.objects.filter(pk=entry.pk).update(contact=contact)
        contacts[entry.pk] = contact
    life.run_all()
    declined = Appointment.objects.filter(slot__window=life.window).order_by("pk").first()

    offer = services_offers.decline_offer(appointment_id=declined.pk)

    message = OutboxMessage.objects.get(dedup_key=f"offer:{offer.pk}")
    contact = contacts[offer.entry_id]
    deadline = offer.respond_by.astimezone(PARIS)
    assert (message.channel, message.recipient) == (contact.kind, contact.value)
    assert message.expires_at == offer.respond_by
    assert deadline.strftime("%H:%M") in message.body
    assert offer.entry.entry_id[:8].upper() in message.body.upper()
    if kind == "phone":
        assert len(message.body) <= 160 and message.body.isascii(), message.body
    else:
        assert offer.slot.site.name in message.body
        assert deadline.strftime("%d/%m/%Y %H:%M") in message.body
    # One message, for the new offer: the decline itself sends none.
    assert OutboxMessage.objects.filter(dedup_key__startswith="offer:").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_lapses_and_declines_at_once_keep_one_chain_and_one_holder_per_slot(timeline):
    life = _mixed(timeline)
    offered = list(
        Appointment.objects.filter(slot__window=life.window, state=AppointmentState.OFFERED)
        .select_related("slot")
        .order_by("pk")
    )
    due, declined = offered[::2], offered[1::2]
    Appointment.objects.filter(pk__in=[a.pk for a in due]).update(
        respond_by=clock.now() - timedelta(minutes=1)
    )

    outcomes = run_concurrently(
        services_offers.lapse_due_offers,
        *[lambda pk=a.pk: services_offers.decline_offer(appointment_id=pk) for a in declined],
    )

    assert [error for _, error in outcomes] == [None] * (1 + len(declined))
    assert outcomes[0][0] == len(due)
    draw = Draw.objects.get(window=life.window)
    seqs = list(DrawEvent.objects.filter(draw=draw).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))  # one chain, no gap, no fork
    holding = Appointment.objects.filter(
        slot__window=life.window, state__in=[AppointmentState.OFFERED, AppointmentState.CONFIRMED]
    )
    assert holding.values("slot").distinct().count() == holding.count()  # one holder per slot
    assert holding.values("entry").distinct().count() == holding.count()
    assert_replays(kit.kit_files(draw))  # every offer was the best-ranked compatible one
