"""The signed link of an offer's message: the person answers without a one-time code, sees
where and when, what to bring, downloads the convocation and the calendar entry; the link
expires with the offer and a forged one opens nothing."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import OutboxMessage, User
from booking.models import Appointment, AppointmentState, Entry, Procedure, Site
from lottery import clock, offer_links
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def offered(timeline):
    """A published draw whose entries all belong to one applicant, who is not logged in."""
    life = timeline(entries=10, slots=3)
    contact = ContactFactory(user=User.objects.create_user(username="applicant"))
    Entry.objects.filter(window=life.window).update(contact=contact)
    Site.objects.update(address="1 place de Verdun, 38000 Grenoble")
    Procedure.objects.update(documents="Passport\nProof of address\n\nThree photos")
    life.run_all()
    life.contact = contact
    life.offer = (
        Appointment.objects.filter(entry__window=life.window, state=AppointmentState.OFFERED)
        .order_by("entry__rank")
        .first()
    )
    life.token = offer_links.make(life.offer)
    return life


def _page(client, token, *rest):
    name = {(): "offer", ("pdf",): "offer-convocation-pdf", ("ics",): "offer-ics"}.get(rest)
    if name is None:
        return client.get(reverse("offer-answer", args=[token, *rest]))
    return client.get(reverse(name, args=[token]))


def test_the_outcome_message_carries_the_link_of_the_offer(offered):
    body = OutboxMessage.objects.get(dedup_key=f"outcome:{offered.offer.entry.entry_id}").body

    assert offer_links.url(offered.offer) in body
    assert len(offer_links.make(offered.offer)) <= 16  # short enough for one SMS part


def test_the_page_shows_when_where_what_to_bring_and_the_rules(offered, client):
    response = _page(client, offered.token)
    page = response.content.decode()

    assert response.status_code == 200
    assert offered.offer.slot.site.name in page
    assert "1 place de Verdun, 38000 Grenoble" in page
    assert "openstreetmap.org/search?query=1%20place%20de%20Verdun" in page
    assert offered.offer.slot.procedure.name in page
    assert "<li>Passport</li><li>Proof of address</li><li>Three photos</li>" in page
    assert offered.offer.entry.entry_id in page
    assert "L311-3-1" in page
    assert reverse("draw-detail", args=[offered.window.code]) + "#rules" in page
    assert response["Cache-Control"].startswith("max-age=0")


def test_confirming_by_the_link_needs_no_code_and_sends_a_confirmation(offered, client):
    response = client.post(reverse("offer-answer", args=[offered.token, "accept"]), follow=True)

    assert Appointment.objects.get(pk=offered.offer.pk).state == AppointmentState.CONFIRMED
    page = response.content.decode()
    assert reverse("offer-convocation-pdf", args=[offered.token]) in page
    assert reverse("offer-ics", args=[offered.token]) in page
    confirmation = OutboxMessage.objects.get(dedup_key=f"answer:accept:{offered.offer.pk}")
    assert offered.offer.entry.pseudonym in confirmation.body
    # After a reload the answer is still shown, and cannot be given twice.
    reloaded = _page(client, offered.token).content.decode()
    assert reverse("offer-convocation-pdf", args=[offered.token]) in reloaded
    assert reverse("offer-answer", args=[offered.token, "accept"]) not in reloaded


def test_the_convocation_and_calendar_come_once_confirmed(offered, client):
    assert _page(client, offered.token, "pdf").status_code == 404  # not confirmed yet
    client.post(reverse("offer-answer", args=[offered.token, "accept"]))

    pdf = _page(client, offered.token, "pdf")
    ics = _page(client, offered.token, "ics")

    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert pdf.content.startswith(b"%PDF")
    assert (ics.status_code, ics["Content-Type"].split(";")[0]) == (200, "text/calendar")
    assert b"TZID=Europe/Paris" in ics.content


def test_declining_by_the_link_asks_first_then_moves_the_slot_on(offered, client):
    asked = _page(client, offered.token, "decline")
    assert asked.status_code == 200
    assert Appointment.objects.get(pk=offered.offer.pk).state == AppointmentState.OFFERED

    client.post(reverse("offer-answer", args=[offered.token, "decline"]))

    assert Appointment.objects.get(pk=offered.offer.pk).state == AppointmentState.DECLINED
    assert OutboxMessage.objects.filter(dedup_key=f"answer:decline:{offered.offer.pk}").exists()
    assert Appointment.objects.filter(
        slot=offered.offer.slot, state=AppointmentState.OFFERED
    ).exists()


def test_a_forged_or_mistyped_link_opens_nothing(offered, client):
    pk_part, mac = offered.token.split(".")
    forged = [
        f"{pk_part}.{'A' * len(mac)}",
        f"{int(pk_part, 36) + 1:x}.{mac}",
        offered.token[:-1],
        "nothing",
        f"{'z' * 12}.{mac}",
    ]
    for token in forged:
        response = client.post(reverse("offer-answer", args=[token, "accept"]))
        assert response.status_code == 404, token
        assert _page(Client(), token).status_code == 404, token
    assert Appointment.objects.get(pk=offered.offer.pk).state == AppointmentState.OFFERED


def test_the_link_expires_with_the_offer(offered, client):
    with clock.at(offered.offer.respond_by + timedelta(seconds=1)):
        page = _page(client, offered.token)
        answer = client.post(reverse("offer-answer", args=[offered.token, "accept"]))

    assert page.status_code == 404
    assert reverse("my-login") in page.content.decode()
    assert answer.status_code == 404
    assert Appointment.objects.get(pk=offered.offer.pk).state == AppointmentState.OFFERED


def test_a_link_is_bound_to_its_deadline(offered):
    Appointment.objects.filter(pk=offered.offer.pk).update(
        respond_by=offered.offer.respond_by + timedelta(hours=1)
    )

    assert offer_links.read(offered.token, clock.now()) is None


def test_the_page_speaks_the_persons_language_unless_the_browser_chose(offered, client):
    type(offered.contact).objects.filter(pk=offered.contact.pk).update(language="ar")

    arabic = _page(client, offered.token).content.decode()
    client.cookies["django_language"] = "uk"
    ukrainian = _page(client, offered.token).content.decode()

    assert '<html lang="ar"' in arabic and 'dir="rtl"' in arabic
    assert '<html lang="uk"' in ukrainian
