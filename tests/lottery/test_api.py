"""Draw API: parties commit and reveal, supervisors paste a beacon, applicants answer offers."""

from datetime import timedelta

import pytest
from django.urls import reverse

from accounts.models import User
from booking.models import Appointment, AppointmentState, Entry
from lottery import clock
from lottery.fairdraw import crypto
from lottery.models import Draw, DrawParty
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _contact(name: str):
    # accounts is giving each contact a Django user; pass one explicitly either way.
    return ContactFactory(user=User.objects.create_user(username=name))


def test_auditor_registers_a_party_through_the_api(timeline, auditor, login_otp):
    life = timeline()
    client = login_otp(auditor)
    commitment = crypto.commitment(life.window.code, "LIGUE", b"\x01" * 32).hex()

    response = client.post(reverse("api-draw-parties", args=[life.window.code]),
                           {"party_id": "LIGUE", "commitment": commitment},
                           content_type="application/json")  # fmt: skip

    assert response.status_code == 200
    assert DrawParty.objects.get(party_id="LIGUE").commitment == commitment


def test_party_api_refuses_an_anonymous_visitor(timeline, anonymous):
    life = timeline()

    response = anonymous.post(reverse("api-draw-parties", args=[life.window.code]),
                              {"party_id": "X", "commitment": "00" * 32},
                              content_type="application/json")  # fmt: skip

    assert response.status_code == 403
    assert DrawParty.objects.filter(draw__window=life.window).count() == 1


def test_late_reveal_through_the_api_is_a_conflict(timeline, auditor, login_otp):
    life = timeline()
    secret = b"\x02" * 32
    client = login_otp(auditor)
    url = reverse("api-draw-parties", args=[life.window.code])
    client.post(url, {"party_id": "LIGUE",
                      "commitment": crypto.commitment(life.window.code, "LIGUE", secret).hex()},
                content_type="application/json")  # fmt: skip
    life.close_and_freeze()

    with clock.at(life.window.reveal_deadline + timedelta(minutes=1)):
        response = client.post(reverse("api-draw-reveals", args=[life.window.code]),
                               {"party_id": "LIGUE", "secret": secret.hex()},
                               content_type="application/json")  # fmt: skip

    assert (response.status_code, response.json()["code"]) == (409, "reveal_late")
    assert DrawParty.objects.get(party_id="LIGUE").revealed_at is None


def test_public_record_api_has_no_secret_before_reveal(timeline, anonymous):
    life = timeline()

    data = anonymous.get(reverse("api-draw", args=[life.window.code])).json()

    assert data["announcement"]["parties"][0]["commitment"] == (
        Draw.objects.get(window=life.window).parties.get().commitment
    )
    assert "secret" not in str(data)


def test_applicant_declines_own_offer_and_the_slot_moves_on(timeline, client):
    life = timeline(entries=10, slots=3)
    contact = _contact("applicant")
    Entry.objects.filter(window=life.window).update(contact=contact)
    life.run_all()
    offer = Appointment.objects.filter(entry__window=life.window).order_by("entry__rank").first()
    session = client.session
    session["applicant_contact"] = contact.pk
    session.save()

    response = client.post(reverse("api-appointment-action", args=[offer.pk, "decline"]))

    assert response.json() == {"appointment": offer.pk, "state": AppointmentState.DECLINED}
    assert Appointment.objects.filter(slot=offer.slot, state=AppointmentState.OFFERED).count() == 1


def test_applicant_cannot_answer_someone_elses_offer(timeline, client):
    life = timeline(entries=10, slots=3)
    life.run_all()
    offer = Appointment.objects.filter(entry__window=life.window).first()
    session = client.session
    session["applicant_contact"] = _contact("someone").pk
    session.save()

    response = client.post(reverse("api-appointment-action", args=[offer.pk, "decline"]))

    assert response.status_code == 404
    assert Appointment.objects.get(pk=offer.pk).state == AppointmentState.OFFERED


@pytest.mark.parametrize("foreign", [True, False])
def test_staff_cannot_answer_a_contactless_offer(timeline, login_otp, other_prefecture, foreign):
    """Regression: a staff session matched every appointment without a contact (counter
    registrations) of any prefecture. Offer actions are the applicant's own."""
    from tests.factories import StaffFactory

    life = timeline(entries=10, slots=3)
    life.run_all()
    offer = Appointment.objects.filter(entry__window=life.window).first()
    assert offer.entry.contact_id is None
    staff = StaffFactory(
        prefecture=other_prefecture if foreign else life.window.prefecture, role="supervisor"
    )
    client = login_otp(staff)

    response = client.post(reverse("api-appointment-action", args=[offer.pk, "decline"]))

    assert response.status_code == 403
    assert response.json()["code"] == "not_authenticated"
    assert Appointment.objects.get(pk=offer.pk).state == AppointmentState.OFFERED
