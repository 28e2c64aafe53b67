"""A lockout never makes an offer lapse: a deadline that falls while the person's contact is
locked (a stranger typing wrong codes) is extended, and the extension is audited."""

from datetime import timedelta

from accounts import contacts, otp
from accounts.models import AuditEvent, ContactCodeDevice
from booking.models import Appointment, AppointmentState, Entry
from lottery import clock, kit, services_offers
from lottery.models import Draw
from tests.lottery.conftest import assert_replays


def _offer_with_contact(timeline):
    life = timeline(entries=4, slots=2)
    life.run_all()
    offer = Appointment.objects.filter(
        slot__window=life.window, state=AppointmentState.OFFERED
    ).first()
    contact = contacts.get_or_create_contact(kind="phone", value="+33612345678")
    Entry.objects.filter(pk=offer.entry_id).update(contact=contact, contact_seat=1)
    return life, offer, contact


def test_deadline_during_a_lockout_is_extended_past_its_end(timeline):
    life, offer, contact = _offer_with_contact(timeline)
    after_deadline = offer.respond_by + timedelta(minutes=5)
    locked_until = offer.respond_by + timedelta(minutes=20)  # locked since before the deadline
    ContactCodeDevice.objects.filter(contact=contact).update(locked_until=locked_until)

    with clock.at(after_deadline):
        services_offers.lapse_due_offers()
    offer.refresh_from_db()

    assert offer.state == AppointmentState.OFFERED
    assert offer.respond_by == locked_until + services_offers.LOCKOUT_GRACE
    assert AuditEvent.objects.filter(action="offer.extended_after_lockout").count() == 1
    assert_replays(kit.kit_files(Draw.objects.get(window=life.window)))


def test_deadline_before_the_lockout_lapses_as_usual(timeline):
    _life, offer, contact = _offer_with_contact(timeline)
    # Locked long after the deadline passed: the lock did not stop the answer in time.
    locked_until = offer.respond_by + otp.LOCK_MAX + timedelta(minutes=30)
    ContactCodeDevice.objects.filter(contact=contact).update(locked_until=locked_until)

    with clock.at(offer.respond_by + timedelta(minutes=45)):
        services_offers.lapse_due_offers()
    offer.refresh_from_db()

    assert offer.state == AppointmentState.LAPSED
