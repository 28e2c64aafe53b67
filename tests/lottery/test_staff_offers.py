"""Offer answers for people without a phone or e-mail: given at the counter by an agent or a
supervisor of the prefecture, or by the helper who registered the entry, through a staff
service of its own, audited with the staff member's name; refused for another prefecture (as
not found), for an entry with a contact (the person answers themselves), and for other staff."""

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, Role, User
from booking.checkin_token import read_token
from booking.models import Appointment, AppointmentState, Channel, Entry
from config.errors import DomainError
from lottery import kit, services_offers
from lottery.models import Draw
from tests.booking.test_helpers import _approved_helper
from tests.factories import ContactFactory, StaffFactory
from tests.lottery.conftest import assert_replays
from tests.lottery.test_my_appointments import _printed_code

pytestmark = pytest.mark.django_db


def _published(life, **entry_fields):
    """Run `life` to its publication, its entries given `entry_fields` before the freeze."""
    if entry_fields:
        Entry.objects.filter(window=life.window).update(**entry_fields)
    life.run_all()
    life.offers = list(
        Appointment.objects.filter(entry__window=life.window).order_by("entry__rank")
    )
    return life


@pytest.fixture
def offered(timeline):
    """A published draw of entries without contact (counter registrations): three offers."""
    return _published(timeline(entries=6, slots=3))


def _contact():
    return ContactFactory(user=User.objects.create_user(username="person.with.phone"))


def _state(appointment) -> str:
    return Appointment.objects.get(pk=appointment.pk).state


def _url(appointment) -> str:
    return reverse("staff-appointment-answer", args=[appointment.pk])


def test_agent_accepts_at_the_counter_with_an_audit_row_naming_them(offered, agent):
    offer = offered.offers[0]

    services_offers.answer_offer_for_person(appointment_id=offer.pk, answer="accept", actor=agent)

    assert _state(offer) == AppointmentState.CONFIRMED
    row = AuditEvent.objects.get(action="offer.answered_for_person")
    assert (row.actor, row.actor_label, row.data["answer"]) == (agent, agent.username, "accept")
    assert row.prefecture_id == offered.window.prefecture_id


def test_supervisor_declines_and_the_slot_goes_to_the_next_by_rank(offered, supervisor):
    offer = offered.offers[0]

    services_offers.answer_offer_for_person(
        appointment_id=offer.pk, answer="decline", actor=supervisor
    )

    assert _state(offer) == AppointmentState.DECLINED
    again = Appointment.objects.get(slot=offer.slot, state=AppointmentState.OFFERED)
    assert again.entry.rank > offer.entry.rank
    assert AuditEvent.objects.filter(action="offer.decline", actor=supervisor).exists()
    assert_replays(kit.kit_files(Draw.objects.get(window=offered.window)))


def test_the_helper_who_registered_the_entry_answers_and_no_other_helper(timeline, prefecture):
    mine, other = _approved_helper(prefecture, "mine"), _approved_helper(prefecture, "other")
    life = _published(timeline(entries=6, slots=3), channel=Channel.HELPER, registered_by=mine)
    offer = life.offers[0]

    with pytest.raises(DomainError) as refused:
        services_offers.answer_offer_for_person(
            appointment_id=offer.pk, answer="accept", actor=other
        )
    services_offers.answer_offer_for_person(appointment_id=offer.pk, answer="accept", actor=mine)

    assert refused.value.http_status == 403
    assert _state(offer) == AppointmentState.CONFIRMED
    assert AuditEvent.objects.get(action="offer.answered_for_person").actor == mine


def test_an_entry_with_a_contact_is_refused_the_person_answers_themselves(offered, agent):
    offer = offered.offers[0]
    Entry.objects.filter(pk=offer.entry_id).update(contact=_contact())

    with pytest.raises(DomainError) as refused:
        services_offers.answer_offer_for_person(
            appointment_id=offer.pk, answer="accept", actor=agent
        )

    assert refused.value.code == "entry_has_contact"
    assert _state(offer) == AppointmentState.OFFERED
    assert not AuditEvent.objects.filter(action="offer.answered_for_person").exists()


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.HELPER])
def test_an_auditor_or_a_helper_of_someone_else_is_refused(offered, prefecture, role):
    offer = offered.offers[0]
    staff = StaffFactory(role=role, prefecture=prefecture)

    with pytest.raises(DomainError) as refused:
        services_offers.answer_offer_for_person(
            appointment_id=offer.pk, answer="decline", actor=staff
        )

    assert refused.value.http_status == 403
    assert _state(offer) == AppointmentState.OFFERED


def test_another_prefecture_agent_gets_not_found_from_service_and_page(
    offered, other_agent, login_otp
):
    offer = offered.offers[0]
    client = login_otp(other_agent)

    with pytest.raises(DomainError) as refused:
        services_offers.answer_offer_for_person(
            appointment_id=offer.pk, answer="accept", actor=other_agent
        )
    page = client.get(_url(offer))
    posted = client.post(_url(offer), {"answer": "accept"})

    assert refused.value.http_status == 404
    assert (page.status_code, posted.status_code) == (404, 404)
    assert _state(offer) == AppointmentState.OFFERED


def test_agent_answers_from_the_day_list_without_javascript(offered, agent, login_otp):
    offer = offered.offers[0]
    client = login_otp(agent)
    day = offer.slot.starts_at.astimezone(services_offers.PARIS).date().isoformat()
    day_page = client.get(reverse("staff-day", args=[offer.slot.site.code, day]))

    asked = client.get(_url(offer))
    answered = client.post(_url(offer), {"answer": "accept"})

    assert _url(offer) in day_page.content.decode()
    assert asked.status_code == 200 and _state(offer) == AppointmentState.CONFIRMED
    assert answered.status_code == 302
    assert answered["Location"] == reverse("staff-appointment-convocation", args=[offer.pk])


def test_the_printed_convocation_holds_a_code_that_checks_in_on_the_day(
    offered, agent, other_agent, login_otp
):
    offer = offered.offers[0]
    services_offers.answer_offer_for_person(appointment_id=offer.pk, answer="accept", actor=agent)
    url = reverse("staff-appointment-convocation", args=[offer.pk])

    page = login_otp(agent).get(url)
    foreign = login_otp(other_agent).get(url)

    assert page.status_code == 200 and foreign.status_code == 404
    day = offer.slot.starts_at.astimezone(services_offers.PARIS).date()
    code = _printed_code(page.content.decode())
    assert read_token(code, offered.window.prefecture_id, day).pk == offer.pk
    assert "<svg" in page.content.decode()


def test_no_printed_convocation_for_an_offer_or_an_entry_with_a_contact(offered, agent, login_otp):
    offer, with_contact = offered.offers[0], offered.offers[1]
    services_offers.accept_offer(appointment_id=with_contact.pk)
    Entry.objects.filter(pk=with_contact.entry_id).update(contact=_contact())
    client = login_otp(agent)

    not_confirmed = client.get(reverse("staff-appointment-convocation", args=[offer.pk]))
    theirs = client.get(reverse("staff-appointment-convocation", args=[with_contact.pk]))

    assert (not_confirmed.status_code, theirs.status_code) == (404, 404)


def test_the_page_refuses_an_entry_with_a_contact_and_a_bad_answer(offered, agent, login_otp):
    offer = offered.offers[0]
    Entry.objects.filter(pk=offer.entry_id).update(contact=_contact())
    client = login_otp(agent)

    refused = client.post(_url(offer), {"answer": "accept"})
    bad = client.post(_url(offered.offers[1]), {"answer": "maybe"})

    assert refused.status_code == 409 and "fr-alert--error" in refused.content.decode()
    assert bad.status_code == 400
    assert _state(offer) == AppointmentState.OFFERED
    assert _state(offered.offers[1]) == AppointmentState.OFFERED


def test_the_helper_finds_the_offer_on_their_entries_page(timeline, prefecture, login_otp):
    helper = _approved_helper(prefecture, "mine")
    life = _published(timeline(entries=6, slots=3), channel=Channel.HELPER, registered_by=helper)
    offer = life.offers[0]
    client = login_otp(helper)

    listed = client.get(reverse("staff-helper-entries")).content.decode()
    answered = client.post(_url(offer), {"answer": "decline"})

    assert _url(offer) in listed
    assert answered["Location"] == reverse("staff-helper-entries")
    assert _state(offer) == AppointmentState.DECLINED
