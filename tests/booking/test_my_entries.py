"""The applicant's pages: log-in by code, and "my entries"."""

import re

from django.utils import timezone

from accounts import otp
from accounts.models import Contact, OutboxMessage
from booking.models import Entry, EntryStatus, WindowState
from tests.booking.test_registration import _register


def _last_code() -> str:
    message = OutboxMessage.objects.filter(dedup_key__startswith="otp:").latest("id")
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def test_my_entries_hides_the_outcome_until_the_draw_is_published(client, window):
    entry = _register(window)
    Entry.objects.filter(pk=entry.pk).update(status="selected", rank=1)
    window.state = WindowState.DRAWN
    window.save()
    session = client.session
    session["applicant_contact"] = entry.contact_id
    session.save()

    drawn = client.get("/my/").content.decode()
    window.state = WindowState.PUBLISHED
    window.save()
    published = client.get("/my/").content.decode()

    selected = str(EntryStatus.SELECTED.label)  # in the page's language (French by default)
    assert selected not in drawn
    assert selected in published


# --- Query budgets: measured on SQLite and PostgreSQL (the same on both), plus two -------------


def test_my_login_send_query_budget(client, db, django_assert_max_num_queries):
    form = {"contact_kind": "phone", "contact": "06 12 34 56 78", "send": ""}

    # 15 measured: contact looked up, user, contact and device (in a savepoint), code, audit
    # row, message, session written (a new contact, the costlier case).
    with django_assert_max_num_queries(17):
        sent = client.post("/my/login/", form)

    assert (sent.status_code, sent["Location"]) == (302, "/my/code/")
    assert OutboxMessage.objects.get().recipient == "+33612345678"


def test_my_code_query_budget(client, db, django_assert_max_num_queries):
    otp.start_login(kind="phone", value="+33612345678", client_ip="10.0.0.1", proof_ok=True)
    client.post("/my/login/", {"contact_kind": "phone", "contact": "0612345678", "have_code": ""})
    code = _last_code()

    # 15 measured: session read, contact, device locked, code spent, contact verified, audit
    # row, then the session's new key (written, the old one deleted) and its expiry.
    with django_assert_max_num_queries(17):
        logged_in = client.post("/my/code/", {"code": code})

    assert (logged_in.status_code, logged_in["Location"]) == (302, "/my/")
    assert Contact.objects.get().verified_at <= timezone.now()
    assert client.session["applicant_contact"] == Contact.objects.get().pk
