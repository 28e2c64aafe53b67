"""Counter registration: an agent registers a walk-in person with the web form's rules, without a
one-time code, and prints the receipt; the person gets it by SMS too when they give a phone."""

from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import contacts, ratelimit
from accounts.models import AuditEvent, Contact, OutboxMessage, Person, Role
from booking import counter, entries, receipts, registration
from booking.models import Channel, DuplicateFlag, Entry, EntryStatus
from config.errors import DomainError
from tests.answers import form_answers
from tests.booking.test_registration import _register as register_on_the_web
from tests.factories import EntryFactory, StaffFactory, WindowFactory

pytestmark = pytest.mark.django_db


def staff_client(user) -> Client:
    """A client logged in as `user` with a verified second factor (one per user)."""
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def counter_form(window, **changes) -> dict:
    """The counter form's fields: the web form's, without a proof of work."""
    return form_answers(window, language="en", **changes)


def counter_input(window, **changes) -> registration.RegistrationInput:
    fields = {**counter_form(window), "birth_date": date(1991, 3, 4)}
    return registration.RegistrationInput.from_answers({**fields, **changes})


def _post(client, window, **changes):
    url = reverse("staff-counter-register", args=[window.code])
    return client.post(url, counter_form(window, **changes))


# --- The registration -------------------------------------------------------------------------


def test_counter_registration_records_the_entry_its_audit_row_and_receipt_sms(window, agent):
    client = staff_client(agent)

    response = _post(client, window)

    entry = Entry.objects.select_related("contact", "person").get()
    event = AuditEvent.objects.get(action="entry.registered")
    sms = OutboxMessage.objects.get(dedup_key=f"receipt:{entry.entry_id}")
    assert response["Location"] == reverse("staff-entry-receipt", args=[entry.entry_id])
    assert (entry.channel, entry.registered_by, entry.status, entry.tier) == (
        Channel.COUNTER,
        agent,
        EntryStatus.REGISTERED,
        1,
    )
    assert (entry.person.identifier, entry.person.family_name) == ("7512345678", "Haidari")
    assert (entry.contact.value, entry.contact_seat, entry.contact.verified_at) == (
        "+33612345678",
        1,
        None,
    )
    assert (event.actor, event.target_id, event.prefecture_id, event.data) == (
        agent,
        str(entry.pk),
        window.prefecture_id,
        {"entry_id": entry.entry_id, "channel": "counter"},
    )
    assert (sms.channel, sms.recipient) == ("phone", "+33612345678")
    assert entry.pseudonym in sms.body and "registration recorded" in sms.body


def test_counter_registration_without_contact_sends_nothing(window, agent):
    client = staff_client(agent)

    _post(client, window, contact="", contact_kind="")

    entry = Entry.objects.get()
    assert (entry.contact, entry.contact_seat, entry.channel) == (None, None, Channel.COUNTER)
    assert list(OutboxMessage.objects.values_list("dedup_key", flat=True)) == []
    assert Contact.objects.count() == 0


def test_counter_receipt_page_is_the_signed_receipt_to_print(window, agent):
    client = staff_client(agent)
    entry = counter.register_at_counter(window=window, data=counter_input(window), actor=agent)

    page = client.get(reverse("staff-entry-receipt", args=[entry.entry_id]))

    token = page.context["token"]
    assert receipts.check_receipt(token)["entry_id"] == entry.entry_id
    assert token in page.text and entry.pseudonym in page.text
    assert "booking/print.css" in page.text
    assert "Haidari" not in page.text and "7512345678" not in page.text


def test_counter_registration_uses_the_web_tier_rule(window, agent):
    soon = timezone.localdate() + timedelta(days=3)

    entry = counter.register_at_counter(
        window=window, data=counter_input(window, permit_expires_on=soon), actor=agent
    )

    assert entry.tier == entries.initial_tier(window, soon.isoformat()) == 0


def test_counter_registration_flags_a_likeness_as_the_web_does(window, agent):
    counter.register_at_counter(window=window, data=counter_input(window), actor=agent)

    second = counter.register_at_counter(
        window=window,
        data=counter_input(window, identifier="7599999999", contact=""),
        actor=agent,
    )

    flag = DuplicateFlag.objects.get()
    event = AuditEvent.objects.get(action="entry.flagged_similar")
    assert (flag.entry, Person.objects.count()) == (second, 2)
    assert (event.actor, event.target_id) == (agent, str(second.pk))


def test_counter_contact_with_three_entries_is_refused_as_on_the_web(prefecture, agent):
    windows = [WindowFactory(prefecture=prefecture) for _ in range(4)]
    contact = contacts.get_or_create_contact(kind="phone", value="+33612345678")
    for seat, window in enumerate(windows[:3], start=1):
        EntryFactory(window=window, contact=contact, contact_seat=seat)

    with pytest.raises(DomainError) as refused:
        counter.register_at_counter(window=windows[3], data=counter_input(windows[3]), actor=agent)

    assert refused.value.code == "contact_full"
    assert Entry.objects.filter(window=windows[3]).count() == 0


# --- Refusals -----------------------------------------------------------------------------------


def test_counter_duplicate_is_refused_exactly_as_on_the_web(window, agent):
    register_on_the_web(window)
    ratelimit.reset()
    with pytest.raises(DomainError) as on_the_web:
        register_on_the_web(window, contact="+33 6 98 76 54 32")
    client = staff_client(agent)

    response = _post(client, window, identifier="75 1234 5678", family_name="haïdari")

    with pytest.raises(DomainError) as at_the_counter:
        counter.register_at_counter(window=window, data=counter_input(window), actor=agent)
    refusals = AuditEvent.objects.filter(action="entry.duplicate_refused", actor=agent)
    assert (at_the_counter.value.code, str(at_the_counter.value.message)) == (
        on_the_web.value.code,
        str(on_the_web.value.message),
    )
    assert at_the_counter.value.code == "already_registered"
    assert response.status_code == at_the_counter.value.http_status == 409
    with translation.override("fr"):  # the page's language
        assert response.context["form"].non_field_errors() == [str(on_the_web.value.message)]
    assert list(Entry.objects.values_list("channel", flat=True)) == [Channel.WEB]
    assert refusals.count() == 2


def test_counter_closed_window_is_refused(window, agent):
    window.closes_at = timezone.now() - timedelta(minutes=1)
    window.opens_at = window.closes_at - timedelta(days=2)
    window.save()
    client = staff_client(agent)

    response = _post(client, window)

    with pytest.raises(DomainError) as refused:
        counter.register_at_counter(window=window, data=counter_input(window), actor=agent)
    assert (refused.value.code, response.status_code) == ("window_closed", 409)
    with translation.override("fr"):  # the page's language
        assert response.context["form"].non_field_errors() == [str(refused.value.message)]
    assert Entry.objects.count() == Contact.objects.count() == OutboxMessage.objects.count() == 0


def test_counter_page_of_another_prefecture_is_missing(window, other_agent):
    client = staff_client(other_agent)

    answers = [
        client.get(reverse("staff-counter-register", args=[window.code])).status_code,
        _post(client, window).status_code,
    ]

    assert answers == [404, 404]
    assert Entry.objects.count() == 0


def test_counter_is_refused_to_an_auditor(window, auditor):
    client = staff_client(auditor)

    answers = [
        client.get(reverse("staff-counter-register", args=[window.code])).status_code,
        _post(client, window).status_code,
    ]
    with pytest.raises(DomainError) as refused:
        counter.register_at_counter(window=window, data=counter_input(window), actor=auditor)

    assert answers == [404, 404]
    assert (refused.value.code, refused.value.http_status) == ("forbidden", 403)
    assert Entry.objects.count() == 0


def test_counter_receipt_of_another_prefecture_is_missing(window, agent, other_agent):
    entry = counter.register_at_counter(window=window, data=counter_input(window), actor=agent)
    client = staff_client(other_agent)

    response = client.get(reverse("staff-entry-receipt", args=[entry.entry_id]))

    assert response.status_code == 404


def test_counter_supervisor_registers_too(window, supervisor):
    client = staff_client(supervisor)

    _post(client, window)

    assert list(Entry.objects.values_list("registered_by__role", "channel")) == [
        (Role.SUPERVISOR, Channel.COUNTER)
    ]


def test_counter_agent_of_the_prefecture_only(window, other_prefecture):
    stranger = StaffFactory(role=Role.AGENT, prefecture=other_prefecture)

    with pytest.raises(DomainError) as refused:
        counter.register_at_counter(window=window, data=counter_input(window), actor=stranger)

    assert refused.value.code == "forbidden"


def test_counter_page_is_the_web_form_without_proof_of_work_and_with_optional_contact(
    window, agent
):
    client = staff_client(agent)

    page = client.get(reverse("staff-counter-register", args=[window.code]))

    form = page.context["form"]
    assert page.status_code == 200
    assert "altcha" not in form.fields and "data-altcha" not in page.text
    assert (form.fields["contact"].required, form.fields["contact_kind"].required) == (False, False)
    assert page.context["is_open"] is True
