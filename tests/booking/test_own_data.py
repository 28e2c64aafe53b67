"""The applicant's own data: the export (page and JSON) and the withdrawal of an entry."""

import json

import pytest
from django.utils import timezone

from accounts import ratelimit
from accounts.models import AuditEvent, OutboxMessage, User
from booking import own_data
from booking.models import Entry, EntryStatus, WindowState
from booking.views import APPLICANT_KEY
from config.errors import Conflict, DomainError
from tests.booking.test_registration import _register
from tests.factories import ContactFactory, EntryFactory, SiteFactory


def _stranger():
    """A contact of someone else (the factory's contact needs its user)."""
    return ContactFactory(user=User.objects.create_user(username="stranger"))


def _log_in(client, contact_id):
    session = client.session
    session[APPLICANT_KEY] = contact_id
    session.save()
    return client


# --- Export -----------------------------------------------------------------------------------


def test_export_holds_the_contact_the_entries_and_the_identity_decrypted(window):
    entry = _register(window, excluded_weekdays="6")
    site = SiteFactory(prefecture=window.prefecture, name="Grenoble")
    entry.sites.add(site)
    other = _register(window, identifier="7599999999", contact="06 98 76 54 32")

    data = own_data.export(entry.contact_id)

    assert data["contact"]["kind"] == "phone"
    assert data["contact"]["value"] == "+33612345678"
    assert data["contact"]["language"] == "fr"
    [exported] = data["entries"]
    assert exported["reference"] == entry.pseudonym
    assert exported["entry_id"] == entry.entry_id != other.entry_id
    assert exported["window"]["code"] == window.code
    assert exported["procedure"]["code"] == entry.procedure.code
    assert (exported["status"], exported["rank"], exported["tier"]) == ("registered", None, 1)
    assert exported["sites"] == [{"code": site.code, "name": "Grenoble"}]
    assert exported["excluded_weekdays"] == [6]
    assert exported["channel"] == "web"
    assert exported["identity"] == {
        "kind": "agdref",
        "kind_label": exported["identity"]["kind_label"],
        "identifier": "7512345678",
        "family_name": "Haidari",
        "given_names": "Amina",
        "birth_date": "1991-03-04",
        "nationality": "AF",
        "registered_at": entry.person.created_at,
    }
    # The receipt and the code sent to this contact, not the other one's.
    bodies = [message["body"] for message in data["messages"]]
    assert any(entry.pseudonym in body or entry.entry_id in body for body in bodies)
    assert not any(other.entry_id in body for body in bodies)


def test_export_hides_an_outcome_until_the_draw_is_published(window):
    entry = _register(window)
    Entry.objects.filter(pk=entry.pk).update(status=EntryStatus.SELECTED, rank=1)
    window.state = WindowState.DRAWN
    window.save()

    [exported] = own_data.export(entry.contact_id)["entries"]

    assert (exported["status"], exported["rank"]) == (own_data.HIDDEN_OUTCOME, None)


def test_export_does_not_show_a_code_still_valid(window):
    entry = _register(window)
    code_message = OutboxMessage.objects.filter(dedup_key__startswith="otp:").latest("id")
    code_message.expires_at = timezone.now() + timezone.timedelta(minutes=5)
    code_message.save()

    bodies = [message["body"] for message in own_data.export(entry.contact_id)["messages"]]

    assert code_message.body not in bodies


def test_export_is_audited_without_personal_data(window):
    entry = _register(window)

    own_data.export(entry.contact_id)

    event = AuditEvent.objects.get(action="own_data.exported")
    assert (event.actor_label, event.target_type, event.target_id) == (
        "applicant",
        "contact",
        str(entry.contact_id),
    )
    assert "7512345678" not in json.dumps(event.data)


def test_data_page_shows_the_identity_in_plain_sentences(client, window):
    entry = _register(window)

    page = _log_in(client, entry.contact_id).get("/my/data/")

    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    text = page.content.decode()
    assert "7512345678" in text and "Haidari" in text and "+33612345678" in text


def test_json_download_is_an_attachment(client, window):
    entry = _register(window)

    response = _log_in(client, entry.contact_id).get("/my/data.json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    assert json.loads(response.content)["entries"][0]["entry_id"] == entry.entry_id


@pytest.mark.parametrize("path", ["/my/data/", "/my/data.json", "/my/entries/1/withdraw/"])
def test_without_a_session_the_pages_send_to_the_log_in(client, db, path):
    response = client.get(path)

    assert (response.status_code, response["Location"]) == (302, "/my/login/")


# --- Withdrawal -------------------------------------------------------------------------------


def test_withdrawal_frees_the_place_and_the_person_registers_again(window):
    entry = _register(window)

    own_data.withdraw(entry.contact_id, entry.pk)
    ratelimit.reset()  # the contact's one-minute cooldown between codes
    again = _register(window)

    assert Entry.objects.get(pk=entry.pk).status == EntryStatus.WITHDRAWN
    assert again.pk != entry.pk
    assert (again.person_id, again.procedure_id) == (entry.person_id, entry.procedure_id)
    assert again.status == EntryStatus.REGISTERED
    assert again.contact_seat == 1  # the seat was freed too


def test_withdrawal_is_audited_with_the_pseudonym_only(window):
    entry = _register(window)

    own_data.withdraw(entry.contact_id, entry.pk)

    event = AuditEvent.objects.get(action="entry.withdrawn_by_applicant")
    assert (event.actor_label, event.reference) == ("applicant", entry.pseudonym)
    assert event.prefecture_id == window.prefecture_id
    assert event.data == {}


def test_another_contacts_entry_is_not_found(window):
    entry = _register(window)
    stranger = _stranger()

    with pytest.raises(DomainError) as refused:
        own_data.withdraw(stranger.pk, entry.pk)

    assert refused.value.http_status == 404
    assert Entry.objects.get(pk=entry.pk).status == EntryStatus.REGISTERED
    assert not AuditEvent.objects.filter(action="entry.withdrawn_by_applicant").exists()


@pytest.mark.parametrize("state", [WindowState.CLOSED, WindowState.DRAWN])
def test_withdrawal_is_refused_once_the_window_closed(window, state):
    entry = _register(window)
    window.state = state
    window.save()

    with pytest.raises(Conflict) as refused:
        own_data.withdraw(entry.contact_id, entry.pk)

    assert refused.value.code == "window_not_open"
    assert Entry.objects.get(pk=entry.pk).status == EntryStatus.REGISTERED


def test_withdrawal_is_refused_after_the_close_time_even_before_the_tick(window):
    entry = _register(window)
    window.closes_at = window.freeze_at = timezone.now() - timezone.timedelta(seconds=1)
    window.opens_at = window.closes_at - timezone.timedelta(days=1)
    window.save()

    with pytest.raises(Conflict):
        own_data.withdraw(entry.contact_id, entry.pk)


def test_withdrawal_is_refused_for_a_frozen_window(window):
    entry = _register(window)
    window.frozen_at = timezone.now()
    window.save()

    with pytest.raises(Conflict):
        own_data.withdraw(entry.contact_id, entry.pk)


def test_a_withdrawn_entry_cannot_be_withdrawn_again(window):
    entry = _register(window)
    own_data.withdraw(entry.contact_id, entry.pk)

    with pytest.raises(Conflict) as refused:
        own_data.withdraw(entry.contact_id, entry.pk)

    assert refused.value.code == "entry_withdrawn"
    assert AuditEvent.objects.filter(action="entry.withdrawn_by_applicant").count() == 1


def test_withdraw_pages_confirm_then_withdraw(client, window):
    entry = _register(window)
    _log_in(client, entry.contact_id)

    listed = client.get("/my/").content.decode()
    asked = client.get(f"/my/entries/{entry.pk}/withdraw/")
    done = client.post(f"/my/entries/{entry.pk}/withdraw/")

    assert f"/my/entries/{entry.pk}/withdraw/" in listed and "/my/data/" in listed
    assert asked.status_code == 200 and "no-store" in asked["Cache-Control"]
    assert (done.status_code, done["Location"]) == (302, "/my/")
    assert Entry.objects.get(pk=entry.pk).status == EntryStatus.WITHDRAWN
    assert f"/my/entries/{entry.pk}/withdraw/" not in client.get("/my/").content.decode()


def test_withdraw_page_of_another_contacts_entry_is_404(client, window):
    entry = _register(window)
    _log_in(client, _stranger().pk)

    assert client.get(f"/my/entries/{entry.pk}/withdraw/").status_code == 404
    assert client.post(f"/my/entries/{entry.pk}/withdraw/").status_code == 404
    assert Entry.objects.get(pk=entry.pk).status == EntryStatus.REGISTERED


def test_withdraw_page_of_a_closed_window_says_so(client, window):
    entry = EntryFactory(window=window, contact=_stranger())
    window.state = WindowState.CLOSED
    window.save()
    _log_in(client, entry.contact_id)

    asked = client.get(f"/my/entries/{entry.pk}/withdraw/")
    refused = client.post(f"/my/entries/{entry.pk}/withdraw/", follow=True)

    assert (asked.status_code, asked["Location"]) == (302, "/my/")
    assert refused.status_code == 200
    assert Entry.objects.get(pk=entry.pk).status == EntryStatus.REGISTERED
