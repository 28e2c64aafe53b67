"""Applicant sessions as a browser sees them: a new session key at login, an end after 30 idle
minutes, private pages never cached, and a public receipt that does not tell the draw's
outcome."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone, translation

from accounts.models import OutboxMessage, User
from booking import receipts
from booking.models import AppointmentState, Entry, EntryStatus, WindowState
from tests.answers import form_answers
from tests.factories import AppointmentFactory, ContactFactory, EntryFactory

SESSION = settings.SESSION_COOKIE_NAME


def _form(window, **changes):
    return form_answers(window, **changes)


ATTACKER = {"identifier": "7587654321", "family_name": "Mallory", "contact": "0698765432"}


def _last_code() -> str:
    message = OutboxMessage.objects.filter(dedup_key__startswith="otp:").latest("id")
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def _register_on_the_web(client, window, **changes):
    client.post(f"/register/{window.code}/", _form(window, **changes))
    return client.post("/register/verify/", {"code": _last_code()})


def _applicant(name="applicant"):
    return ContactFactory(user=User.objects.create_user(username=name))


# --- Session fixation ---------------------------------------------------------------------------


def test_planted_session_gives_nothing_once_the_victim_registers(window):
    attacker, victim = Client(), Client()
    attacker.post(f"/register/{window.code}/", _form(window, **ATTACKER))
    planted = attacker.cookies[SESSION].value
    victim.cookies[SESSION] = planted

    registered = _register_on_the_web(victim, window)
    stolen = attacker.get("/my/")

    assert registered.status_code == 302 and registered["Location"].startswith("/receipt/")
    assert victim.cookies[SESSION].value != planted
    assert (stolen.status_code, stolen["Location"]) == (302, "/my/login/")
    assert [entry for entry, _token in victim.get("/my/").context["rows"]] == [
        Entry.objects.get()  # the victim's: the attacker never entered a code
    ]


def test_planted_session_gives_nothing_once_the_victim_logs_in(db):
    attacker, victim = Client(), Client()
    attacker.post("/my/login/", {"contact_kind": "phone", "contact": "0698765432"})
    planted = attacker.cookies[SESSION].value
    victim.cookies[SESSION] = planted

    victim.post("/my/login/", {"contact_kind": "phone", "contact": "0612345678"})
    logged_in = victim.post("/my/code/", {"code": _last_code()})
    stolen = attacker.get("/my/")

    assert (logged_in.status_code, logged_in["Location"]) == (302, "/my/")
    assert victim.cookies[SESSION].value != planted
    assert (stolen.status_code, stolen["Location"]) == (302, "/my/login/")
    assert victim.get("/my/").status_code == 200


# --- Idle expiry --------------------------------------------------------------------------------


def test_applicant_session_ends_after_30_idle_minutes(client, window):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _register_on_the_web(client, window)
        traveller.shift(timedelta(minutes=31))
        idle = client.get("/my/")

    assert (idle.status_code, idle["Location"]) == (302, "/my/login/")


def test_applicant_session_lives_on_while_the_applicant_is_active(client, window):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _register_on_the_web(client, window)
        traveller.shift(timedelta(minutes=29))
        first = client.get("/my/")
        traveller.shift(timedelta(minutes=29))  # 58 minutes after logging in, 29 idle
        second = client.get("/my/")

    assert (first.status_code, second.status_code) == (200, 200)
    assert [entry for entry, _token in second.context["rows"]] == [Entry.objects.get()]


def test_staff_session_keeps_its_own_age(supervisor, login_otp):
    client = login_otp(supervisor)

    # Staff sessions follow their own rules (accounts/middleware.py: 30 idle minutes, 12 hours
    # in all; tests/accounts/test_staff_login.py), not the applicant's expiry.
    with time_machine.travel(timezone.now() + timedelta(minutes=29)):
        admin = client.get("/admin/")

    assert admin.status_code == 200
    assert admin.context["user"] == supervisor


# --- Private pages are never cached -------------------------------------------------------------

PRIVATE_PREFIXES = ("receipt/", "r/", "my/")


def _private_routes(patterns=None, prefix=""):
    """The name of every route under /receipt/, /r/ and /my/."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _private_routes(entry.url_patterns, route)
        elif route.startswith(PRIVATE_PREFIXES):
            yield entry.name


@pytest.fixture
def private_requests(client, window):
    """One request for each private route, by a logged-in applicant holding an offer."""
    contact = _applicant()
    window.state = WindowState.PUBLISHED
    window.save()
    appointment = AppointmentFactory(entry=EntryFactory(window=window, contact=contact))
    confirmed = AppointmentFactory(
        entry=EntryFactory(window=window, contact=contact), state=AppointmentState.CONFIRMED
    )
    entry = appointment.entry
    token = receipts.receipt_token(entry)
    session = client.session
    session["applicant_contact"] = contact.pk
    session.save()
    return {
        "receipt-check": ("post", "/receipt/check/", {"receipt": token}),
        "receipt": ("get", f"/receipt/{token}/", {}),
        "receipt-short": ("get", f"/r/{entry.entry_id}/", {}),
        "my-entries": ("get", "/my/", {}),
        "my-login": ("get", "/my/login/", {}),
        "my-appointment": ("get", f"/my/appointments/{appointment.pk}/accept/", {}),
        "my-convocation": ("get", f"/my/appointments/{confirmed.pk}/convocation/", {}),
        "my-convocation-pdf": ("get", f"/my/appointments/{confirmed.pk}/convocation.pdf", {}),
        "my-appointment-ics": ("get", f"/my/appointments/{confirmed.pk}/appointment.ics", {}),
        "my-code": ("get", "/my/code/", {}),
        "my-data": ("get", "/my/data/", {}),
        "my-data-json": ("get", "/my/data.json", {}),
        "my-entry-withdraw": ("get", f"/my/entries/{entry.pk}/withdraw/", {}),
        "my-logout": ("post", "/my/logout/", {}),
    }


def test_private_routes_are_all_checked_for_caching():
    assert set(_private_routes()) == {
        "receipt-check",
        "receipt",
        "receipt-short",
        "my-entries",
        "my-login",
        "my-appointment",
        "my-convocation",
        "my-convocation-pdf",
        "my-appointment-ics",
        "my-code",
        "my-data",
        "my-data-json",
        "my-entry-withdraw",
        "my-logout",
    }


@pytest.mark.parametrize("name", sorted(_private_routes()))
def test_private_route_is_never_cached(client, private_requests, name):
    method, path, data = private_requests[name]

    response = getattr(client, method)(path, data)

    assert response.status_code in (200, 302)
    assert set(response["Cache-Control"].split(", ")) >= {"no-store", "no-cache", "private"}


def test_invalid_receipt_is_never_cached(client, db):
    response = client.get("/receipt/not-a-receipt/")

    assert response.status_code == 404
    assert "no-store" in response["Cache-Control"].split(", ")


# --- The public receipt does not tell the outcome -----------------------------------------------

OUTCOMES = [EntryStatus.SELECTED, EntryStatus.WAITING, EntryStatus.CARRIED, EntryStatus.WITHDRAWN]


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("status", OUTCOMES)
def test_public_receipt_does_not_tell_the_entrys_status(client, window, status, language):
    window.state = WindowState.PUBLISHED
    window.save()
    entry = EntryFactory(window=window, status=status, rank=1)
    token = receipts.receipt_token(entry)
    with translation.override(language):
        label = str(status.label)
        registered_at = str(receipts.check_receipt(token)["registered_at"])

    short = client.get(f"/r/{entry.entry_id}/", follow=True, HTTP_ACCEPT_LANGUAGE=language)
    checked = client.post(
        "/receipt/check/", {"receipt": token}, HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    page = short.content.decode()

    assert [(url.startswith("/receipt/"), code) for url, code in short.redirect_chain] == [
        (True, 302)
    ]
    assert (entry.entry_id in page, label in page) == (True, False)
    assert (entry.entry_id in checked, registered_at in checked, label in checked) == (
        True,
        True,
        False,
    )


def test_my_entries_still_tells_the_applicant_the_status(client, window):
    contact = _applicant()
    window.state = WindowState.PUBLISHED
    window.save()
    EntryFactory(window=window, contact=contact, status=EntryStatus.SELECTED, rank=1)
    session = client.session
    session["applicant_contact"] = contact.pk
    session.save()

    page = client.get("/my/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    with translation.override("en"):
        assert str(EntryStatus.SELECTED.label) in page
