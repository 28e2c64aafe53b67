"""The applicant's appointments on "My entries": confirm, decline, cancel, without JavaScript."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from booking.checkin_token import TokenRefused, read_token
from booking.models import Appointment, AppointmentState, Entry
from lottery import clock, services_offers
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def offered(timeline, client):
    """A published draw whose entries all belong to one logged-in applicant."""
    life = timeline(entries=10, slots=3)
    contact = ContactFactory(user=User.objects.create_user(username="applicant"))
    Entry.objects.filter(window=life.window).update(contact=contact)
    life.run_all()
    session = client.session
    session["applicant_contact"] = contact.pk
    session.save()
    life.offer = (
        Appointment.objects.filter(entry__window=life.window).order_by("entry__rank").first()
    )
    return life


def _url(appointment, action):
    return reverse("my-appointment", args=[appointment.pk, action])


def test_my_entries_lists_the_offer_with_its_deadline_and_actions(offered, client):
    page = client.get(reverse("my-entries")).content.decode()

    assert offered.offer.slot.site.name in page
    assert _url(offered.offer, "accept") in page and _url(offered.offer, "decline") in page
    assert f"{offered.offer.respond_by.astimezone(ZoneInfo('Europe/Paris')):%H:%M}" in page
    with clock.at(offered.offer.slot.starts_at + timedelta(minutes=1)):
        later = client.get(reverse("my-entries")).content.decode()
    assert _url(offered.offer, "accept") not in later  # a past slot needs no action


def test_confirming_then_cancelling_with_a_confirmation_step(offered, client):
    confirmed = client.post(_url(offered.offer, "accept"))
    assert confirmed.status_code == 302 and confirmed["Location"] == reverse("my-entries")
    assert Appointment.objects.get(pk=offered.offer.pk).state == AppointmentState.CONFIRMED
    assert _url(offered.offer, "cancel") in client.get(reverse("my-entries")).content.decode()

    asked = client.get(_url(offered.offer, "cancel"))  # a page that asks, changes nothing
    assert asked.status_code == 200
    assert Appointment.objects.get(pk=offered.offer.pk).state == AppointmentState.CONFIRMED

    client.post(_url(offered.offer, "cancel"))
    assert Appointment.objects.get(pk=offered.offer.pk).state == AppointmentState.CANCELLED
    again = Appointment.objects.get(slot=offered.offer.slot, state=AppointmentState.OFFERED)
    assert again.entry_id != offered.offer.entry_id  # re-offered to the next, by rank


def test_declining_moves_the_slot_on(offered, client):
    client.post(_url(offered.offer, "decline"))

    assert Appointment.objects.get(pk=offered.offer.pk).state == AppointmentState.DECLINED
    assert Appointment.objects.filter(
        slot=offered.offer.slot, state=AppointmentState.OFFERED
    ).exists()


def test_a_refused_action_is_explained_and_changes_nothing(offered, client):
    with clock.at(offered.offer.respond_by + timedelta(minutes=1)):
        response = client.post(_url(offered.offer, "accept"), follow=True)

    assert Appointment.objects.get(pk=offered.offer.pk).state == AppointmentState.OFFERED
    assert "fr-alert--error" in response.content.decode()
    unknown = client.post(_url(offered.offer, "transfer"))
    assert unknown.status_code == 404


def test_someone_elses_appointment_is_not_found(offered, client):
    session = client.session
    session["applicant_contact"] = ContactFactory(user=User.objects.create_user("other")).pk
    session.save()

    assert client.get(_url(offered.offer, "decline")).status_code == 404
    assert client.post(_url(offered.offer, "decline")).status_code == 404
    assert Appointment.objects.get(pk=offered.offer.pk).state == AppointmentState.OFFERED


def test_without_a_session_the_applicant_is_sent_to_log_in(offered, client):
    client.session.flush()
    anonymous = client.__class__()

    response = anonymous.post(_url(offered.offer, "accept"))

    assert response.status_code == 302 and response["Location"] == reverse("my-login")
    assert Appointment.objects.get(pk=offered.offer.pk).state == AppointmentState.OFFERED


# --- The convocation ----------------------------------------------------------------------------


def _printed_code(page: str) -> str:
    """The check-in code as the convocation prints it: its groups, joined as typed."""
    line = re.search(r'class="fr-text--lead fs-checkin-code"[^>]*>(.*?)</p>', page).group(1)
    return "-".join(re.findall(r"<code>([0-9A-Z]{4})</code>", line))


def test_the_owner_gets_a_convocation_whose_code_checks_in_on_the_day(offered, client):
    services_offers.accept_offer(appointment_id=offered.offer.pk)
    url = reverse("my-convocation", args=[offered.offer.pk])

    response = client.get(url)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert url in client.get(reverse("my-entries")).content.decode()
    assert offered.offer.entry.entry_id in page and offered.offer.slot.site.name in page
    assert '<svg width="' in page and "<script" not in page.split("<main", 1)[-1].split("</main")[0]
    day = offered.offer.slot.starts_at.astimezone(ZoneInfo("Europe/Paris")).date()
    prefecture_id = offered.window.prefecture_id
    assert read_token(_printed_code(page), prefecture_id, day).pk == offered.offer.pk
    with pytest.raises(TokenRefused):
        read_token(_printed_code(page), prefecture_id, day + timedelta(days=1))


def test_an_offer_not_yet_confirmed_has_no_convocation(offered, client):
    response = client.get(reverse("my-convocation", args=[offered.offer.pk]))

    assert response.status_code == 404


def test_another_applicant_gets_no_convocation(offered, client):
    services_offers.accept_offer(appointment_id=offered.offer.pk)
    session = client.session
    session["applicant_contact"] = ContactFactory(user=User.objects.create_user("other")).pk
    session.save()

    response = client.get(reverse("my-convocation", args=[offered.offer.pk]))

    assert response.status_code == 404


def test_anonymous_is_sent_to_log_in_for_a_convocation(offered):
    services_offers.accept_offer(appointment_id=offered.offer.pk)
    anonymous = Client()

    response = anonymous.get(reverse("my-convocation", args=[offered.offer.pk]))

    assert response.status_code == 302 and response["Location"] == reverse("my-login")
