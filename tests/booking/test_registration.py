"""Registration: one verified person, one entry; nothing to gain from speed or guessing."""

import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection, connections
from django.db.models.functions import Now
from django.utils import timezone

from accounts import otp
from accounts.models import Contact, OutboxMessage
from booking import registration
from booking.models import Entry, PendingRegistration, Window, WindowState
from config.errors import DomainError
from tests.factories import SiteFactory, WindowFactory

IDENTITY = {
    "procedure": None,
    "identity_kind": "agdref",
    "identifier": "75 1234 5678",
    "given_names": "Amina",
    "family_name": "Haidari",
    "birth_date": date(1991, 3, 4),
    "nationality": "AF",
    "contact_kind": "phone",
    "contact": "06 12 34 56 78",
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _input(window, **changes):
    data = {**IDENTITY, "procedure": window.procedures.first().code, **changes}
    return registration.RegistrationInput(**data)


def _last_code(contact) -> str:
    message = OutboxMessage.objects.filter(dedup_key__startswith="otp:").latest("id")
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def _start(window, ip="10.0.0.1", **changes):
    return registration.start_registration(
        window=window, data=_input(window, **changes), client_ip=ip, proof_ok=True
    )


def _register(window, ip="10.0.0.1", **changes):
    pending = _start(window, ip, **changes)
    registration.verify_registration(pending=pending, code=_last_code(pending.contact))
    return registration.submit_registration(pending=pending)


def test_register_happy_path_gives_entry_and_receipt(window):
    entry = _register(window)

    assert entry.status == "registered"
    assert re.fullmatch(r"[0-9a-f]{32}", entry.entry_id)
    assert registration.check_receipt(registration.receipt_token(entry))["entry_id"] == (
        entry.entry_id
    )
    assert OutboxMessage.objects.filter(dedup_key=f"receipt:{entry.entry_id}").count() == 1


def test_register_same_person_other_spelling_is_refused_generically(window):
    _register(window)

    with pytest.raises(DomainError) as refused:
        _register(
            window, identifier="7512345678", contact="+33 6 98 76 54 32", family_name="HAÏDARI"
        )

    assert refused.value.code == "already_registered"
    assert "number" not in str(refused.value.message).lower()
    assert Entry.objects.count() == 1


def test_register_duplicate_answers_are_capped_per_contact(window):
    _register(window)
    codes = []
    for _ in range(4):
        cache.clear()  # sending limits are tested elsewhere
        with pytest.raises(DomainError) as refused:
            _register(window, contact="+33 6 98 76 54 32")
        codes.append(refused.value.code)

    assert codes == ["already_registered"] * 3 + ["too_many_duplicates"]


def test_register_closed_window_is_refused_and_stores_nothing(window):
    window.closes_at = timezone.now() - timedelta(seconds=1)
    window.opens_at = window.closes_at - timedelta(days=2)
    window.save()

    with pytest.raises(DomainError) as refused:
        registration.start_registration(
            window=window, data=_input(window), client_ip="10.0.0.1", proof_ok=True
        )

    assert refused.value.code == "window_closed"
    assert PendingRegistration.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def test_register_bad_phone_names_the_field_and_stores_nothing(window):
    with pytest.raises(registration.FieldError) as refused:
        registration.start_registration(
            window=window,
            data=_input(window, contact="0899123456"),
            client_ip="10.0.0.1",
            proof_ok=True,
        )

    assert refused.value.field == "contact"
    assert PendingRegistration.objects.count() == Contact.objects.count() == 0


def test_a_start_refused_by_a_sending_limit_keeps_nothing(window):
    """The limits are checked before anything is written (on PostgreSQL start has no
    transaction to roll back): a refused request leaves no contact, registration or code."""
    from config.errors import Throttled

    def counts():
        return (
            Contact.objects.count(),
            PendingRegistration.objects.count(),
            OutboxMessage.objects.count(),
        )

    _start(window)
    before = counts()
    with pytest.raises(Throttled) as cooldown:  # the same contact again within a minute
        _start(window, "10.0.0.2", identifier="7512345679")
    assert cooldown.value.code == "code_cooldown"
    assert counts() == before

    let_through = 0
    with pytest.raises(Throttled) as over:  # new contacts, from an address over its limit
        for index in range(100):
            _start(window, "10.0.0.3", contact=f"+3361000{index:04d}")
            let_through += 1
    assert over.value.code == "too_many_requests"
    assert let_through == otp.IP_LIMIT_WITH_PROOF
    assert counts() == tuple(count + let_through for count in before)


def test_a_start_for_a_locked_contact_keeps_no_registration(window):
    from config.errors import Throttled

    first = _start(window)
    device = first.contact.device
    device.__class__.objects.filter(pk=device.pk).update(
        locked_until=timezone.now() + timedelta(minutes=15)
    )
    cache.clear()  # past the sending limits: only the lock refuses

    with pytest.raises(Throttled) as refused:
        _start(window)

    assert refused.value.code == "contact_locked"
    assert PendingRegistration.objects.count() == 1
    assert OutboxMessage.objects.count() == 1


def test_a_started_registration_is_saved_with_its_key(window):
    pending = _start(window)

    assert pending.pk is not None and not pending._state.adding
    assert PendingRegistration.objects.get(pk=pending.pk).token == pending.token


def test_register_submit_twice_returns_the_same_entry(window):
    pending = registration.start_registration(
        window=window, data=_input(window), client_ip="10.0.0.1", proof_ok=True
    )
    registration.verify_registration(pending=pending, code=_last_code(pending.contact))

    first = registration.submit_registration(pending=pending)
    second = registration.submit_registration(pending=pending)

    assert first == second
    assert Entry.objects.count() == 1


def test_register_submit_before_verification_is_refused(window):
    pending = registration.start_registration(
        window=window, data=_input(window), client_ip="10.0.0.1", proof_ok=True
    )

    with pytest.raises(DomainError) as refused:
        registration.submit_registration(pending=pending)

    assert refused.value.code == "not_verified"
    assert Entry.objects.count() == 0


def _contact_with_three_entries(prefecture):
    """Three entries from one phone in three windows; returns the four windows."""
    windows = [WindowFactory(prefecture=prefecture) for _ in range(4)]
    for index, window in enumerate(windows[:3]):
        cache.clear()
        _register(window, identifier=f"75000000{index:02d}")
    cache.clear()
    return windows


def test_register_fourth_entry_on_one_contact_is_refused(prefecture):
    windows = _contact_with_three_entries(prefecture)

    with pytest.raises(DomainError) as refused:
        _register(windows[3], identifier="7500000099")

    assert refused.value.code == "contact_full"
    assert Entry.objects.count() == 3


def test_register_urgent_permit_goes_to_tier_zero(window):
    entry = _register(window, permit_expires_on=timezone.localdate() + timedelta(days=3))

    assert entry.tier == 0


def test_register_sites_of_another_prefecture_are_refused(window, other_prefecture):
    foreign = SiteFactory(prefecture=other_prefecture)

    with pytest.raises(registration.FieldError) as refused:
        registration.start_registration(
            window=window,
            data=_input(window, sites=(foreign.code,)),
            client_ip="10.0.0.1",
            proof_ok=True,
        )

    assert refused.value.field == "sites"


# --- Web pages ----------------------------------------------------------------------------------


def _form(window, **changes):
    data = {
        "procedure": window.procedures.first().code,
        "identity_kind": "agdref",
        "identifier": "7512345678",
        "family_name": "Haidari",
        "given_names": "Amina",
        "birth_date": "1991-03-04",
        "nationality": "AF",
        "contact_kind": "phone",
        "contact": "0612345678",
    }
    data.update(changes)
    return data


def test_web_registration_end_to_end_without_javascript(client, window):
    started = client.post(f"/register/{window.code}/", _form(window))
    code = _last_code(Contact.objects.get())
    verified = client.post("/register/verify/", {"code": code})
    receipt = client.get(verified["Location"])

    assert started.status_code == 302 and started["Location"] == "/register/verify/"
    entry = Entry.objects.get()
    assert verified.status_code == 302
    assert entry.entry_id.encode() in receipt.content
    assert client.get("/my/").context["rows"][0][0] == entry


def test_web_resend_sends_a_new_code_to_the_same_phone_after_the_cooldown(client, window):
    client.post(f"/register/{window.code}/", _form(window))
    first = _last_code(Contact.objects.get())
    too_soon = client.post("/register/resend/")
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        resent = client.post("/register/resend/")
        second = _last_code(Contact.objects.get())
        stale = client.post("/register/verify/", {"code": first}) if first != second else None
        entries_after_stale = Entry.objects.count()
        verified = client.post("/register/verify/", {"code": second})

    codes = OutboxMessage.objects.filter(dedup_key__startswith="otp:")
    assert too_soon.status_code == resent.status_code == 302
    assert [message.recipient for message in codes] == ["+33612345678"] * 2  # one too soon
    assert stale is None or stale.status_code == 200  # the form again, with its error
    assert entries_after_stale == 0
    assert verified.status_code == 302 and Entry.objects.count() == 1


def test_web_registration_error_is_shown_in_the_users_language(client, window):
    client.cookies["django_language"] = "fr"
    response = client.post(
        f"/register/{window.code}/", _form(window, contact="0899123456"), HTTP_ACCEPT_LANGUAGE="fr"
    )

    assert response.status_code == 200
    assert response.context["form"].errors["contact"]
    assert PendingRegistration.objects.count() == 0


def _verified(window):
    pending = registration.start_registration(
        window=window, data=_input(window), client_ip="10.0.0.1", proof_ok=True
    )
    registration.verify_registration(pending=pending, code=_last_code(pending.contact))
    return pending


def test_submit_after_the_window_closed_is_refused(window):
    pending = _verified(window)
    window.closes_at = timezone.now() - timedelta(seconds=1)
    window.save()

    with pytest.raises(DomainError) as refused:
        registration.submit_registration(token=pending.token)

    assert refused.value.code == "window_closed"
    assert Entry.objects.count() == 0


def test_submit_for_a_procedure_removed_from_the_window_is_refused(window):
    pending = _verified(window)
    window.procedures.clear()

    with pytest.raises(DomainError) as refused:
        registration.submit_registration(token=pending.token)

    assert refused.value.code == "procedure"
    assert Entry.objects.count() == 0


def test_web_registration_for_closed_window_is_not_found(client, window):
    window.state = WindowState.CLOSED
    window.save()

    response = client.get(f"/register/{window.code}/")

    assert response.status_code == 404


def test_web_pages_with_personal_data_are_not_cached(client, window):
    response = client.get(f"/register/{window.code}/")

    assert "no-store" in response["Cache-Control"]


# --- API ----------------------------------------------------------------------------------------


def _api_payload(window, **changes):
    payload = {**_form(window), "window": window.code}
    payload.update(changes)
    return payload


def test_api_flow_start_verify_submit(client, window):
    started = client.post(
        "/api/v1/registrations/",
        _api_payload(window),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    token = started.json()["token"]
    code = _last_code(Contact.objects.get())
    verified = client.post(
        "/api/v1/registrations/verify/",
        {"token": token, "code": code},
        content_type="application/json",
    )
    submitted = client.post(
        "/api/v1/registrations/submit/", {"token": token}, content_type="application/json"
    )
    again = client.post(
        "/api/v1/registrations/submit/", {"token": token}, content_type="application/json"
    )

    assert started.status_code == 202 and started.json()["status"] == "code_sent"
    assert verified.json()["status"] == "verified"
    assert submitted.status_code == 201
    assert submitted.json()["entry_id"] == again.json()["entry_id"] == Entry.objects.get().entry_id


def test_api_start_retry_with_idempotency_key_sends_one_code(client, window):
    for _ in range(2):
        response = client.post(
            "/api/v1/registrations/",
            _api_payload(window),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="same",
        )
        assert response.status_code == 202

    assert PendingRegistration.objects.count() == 1
    assert OutboxMessage.objects.count() == 1


@pytest.mark.parametrize(
    "field,value",
    [("status", "selected"), ("tier", 0), ("weight", 4), ("entry_id", "0" * 32), ("rank", 1)],
)
def test_api_mass_assignment_is_refused(client, window, field, value):
    response = client.post(
        "/api/v1/registrations/",
        {**_api_payload(window), field: value},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert PendingRegistration.objects.count() == 0


def test_api_errors_are_json_in_the_requests_language(client, window):
    response = client.post(
        "/api/v1/registrations/",
        _api_payload(window, contact="junk"),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 400
    assert response.json()["code"].startswith("phone")
    assert response.json()["message"]


def test_api_takes_json_only_and_answers_json_whatever_the_accept_header(client, window):
    from booking.models import PendingRegistration

    form = client.post(
        "/api/v1/registrations/", _api_payload(window), HTTP_ACCEPT_LANGUAGE="fr"
    )  # multipart, as a browser's form
    answered = client.post(
        "/api/v1/registrations/",
        _api_payload(window),
        content_type="application/json; charset=utf-8",
        HTTP_ACCEPT="text/html",
    )

    assert form.status_code == 415 and form["Content-Type"] == "application/json"
    assert form.json()["code"] == "unsupported_media_type" and form.json()["message"]
    assert answered.status_code == 202 and answered["Content-Type"] == "application/json"
    assert answered.json()["status"] == "code_sent"
    assert PendingRegistration.objects.count() == 1  # the refused one kept nothing


def test_api_closed_or_unknown_window_is_refused_in_the_requests_language(client, window):
    window.closes_at = timezone.now() - timedelta(seconds=1)
    window.opens_at = window.closes_at - timedelta(days=2)
    window.save()

    closed = _api(client, "/api/v1/registrations/", _api_payload(window), HTTP_ACCEPT_LANGUAGE="fr")
    unknown = _api(client, "/api/v1/registrations/", {**_api_payload(window), "window": "NOPE"})

    assert (closed.status_code, closed.json()["code"]) == (409, "window_closed")
    assert "fermée" in closed.json()["message"]
    assert unknown.status_code == 404
    assert PendingRegistration.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def _written() -> dict:
    from accounts.models import AuditEvent

    return {
        "contacts": Contact.objects.count(),
        "pending": PendingRegistration.objects.count(),
        "messages": OutboxMessage.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


@pytest.mark.parametrize("idempotency_key", [None, "k-closed"])
def test_api_start_on_a_window_read_a_moment_ago_that_has_closed_since_is_refused(
    client, window, idempotency_key
):
    """The API keeps an open window a few seconds (`window_by_code(recent=True)`); a window
    closed meanwhile is still refused by database time, and nothing of the request is kept."""
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    first = _api(client, "/api/v1/registrations/", _api_payload(window, contact="0612345670"))
    kept = window.code in registration._RECENT_WINDOWS
    before = _written()
    Window.objects.filter(pk=window.pk).update(closes_at=Now() - timedelta(seconds=1))

    closed = _api(
        client,
        "/api/v1/registrations/",
        _api_payload(window, contact="0612345671"),
        HTTP_ACCEPT_LANGUAGE="en",
        **headers,
    )

    assert first.status_code == 202 and kept  # kept a moment
    assert (closed.status_code, closed.json()["code"]) == (409, "window_closed")
    assert _written() == before
    assert not registration._RECENT_WINDOWS  # read again, closed: no longer kept


def test_api_start_on_a_window_read_a_moment_ago_without_the_procedure_since_is_refused(
    client, window
):
    procedure = window.procedures.first()
    first = _api(client, "/api/v1/registrations/", _api_payload(window, contact="0612345670"))
    payload = _api_payload(window, contact="0612345671")
    before = _written()
    window.procedures.remove(procedure)

    refused = _api(client, "/api/v1/registrations/", payload)

    assert first.status_code == 202
    assert refused.status_code == 400 and refused.json()["code"] == "procedure"
    assert _written() == before


def test_api_start_follows_a_window_code_given_to_another_window_since(client, window):
    first = _api(client, "/api/v1/registrations/", _api_payload(window, contact="0612345670"))
    code = window.code
    Window.objects.filter(pk=window.pk).update(code=f"{code}-OLD")
    successor = WindowFactory(prefecture=window.prefecture, code=code)
    successor.procedures.set(window.procedures.all())

    second = _api(client, "/api/v1/registrations/", _api_payload(window, contact="0612345671"))

    assert first.status_code == second.status_code == 202
    newest = PendingRegistration.objects.latest("id")
    assert newest.window_id == successor.pk != window.pk


def test_a_window_is_kept_a_moment_only_while_open(window, monkeypatch):
    kept = registration.window_by_code(window.code, recent=True)
    again = registration.window_by_code(window.code, recent=True)
    monkeypatch.setattr(registration, "RECENT_WINDOW_SECONDS", -1.0)  # read, kept no time
    registration._RECENT_WINDOWS.clear()
    registration.window_by_code(window.code, recent=True)
    expired = registration.window_by_code(window.code, recent=True)
    Window.objects.filter(pk=window.pk).update(closes_at=Now() - timedelta(seconds=1))
    monkeypatch.setattr(registration, "RECENT_WINDOW_SECONDS", 10.0)
    closed = registration.window_by_code(window.code, recent=True)

    assert not getattr(kept, "recent", False) and kept.open_procedures
    assert again.recent and again.pk == kept.pk and again is not kept
    assert not getattr(expired, "recent", False)
    assert closed.open_procedures == {} and window.code not in registration._RECENT_WINDOWS
    assert registration.window_by_code("NOPE", recent=True) is None


def test_api_window_close_is_decided_by_database_time(client, window):
    window.closes_at = timezone.now() - timedelta(seconds=1)
    window.opens_at = window.closes_at - timedelta(days=2)
    window.save()

    # The web server's clock is an hour late; the database's says the window has closed.
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=True):
        late = _api(client, "/api/v1/registrations/", _api_payload(window))

    assert (late.status_code, late.json()["code"]) == (409, "window_closed")
    assert PendingRegistration.objects.count() == 0


def test_api_no_enumeration_before_verification(client, window):
    _register(window)
    cache.clear()
    known = client.post(
        "/api/v1/registrations/",
        _api_payload(window, contact="0698765432"),
        content_type="application/json",
    )
    unknown = client.post(
        "/api/v1/registrations/",
        _api_payload(window, identifier="7599999999", contact="0611111111"),
        content_type="application/json",
    )

    assert known.status_code == unknown.status_code == 202
    assert set(known.json()) == set(unknown.json())
    assert known.json()["status"] == unknown.json()["status"] == "code_sent"


# --- Concurrency (PostgreSQL) ------------------------------------------------------------------


def _verified_pending(window, index: int, identifier: str) -> PendingRegistration:
    from accounts import otp

    data = _input(window, identifier=identifier, contact=f"+336{index:08d}")
    answers = registration._normalised(data)
    contact = otp.get_or_create_contact(kind="phone", value=answers["contact"])
    return PendingRegistration.objects.create(
        window=window, contact=contact, payload=json.dumps(answers), verified_at=timezone.now()
    )


def _submit_all(pendings, workers):
    def submit(pending):
        try:
            return registration.submit_registration(pending=pending).pk, None
        except DomainError as exc:
            return None, exc.code
        finally:
            connections.close_all()

    # PostgreSQL here allows 100 connections: with 100 clients, the test's own must be closed.
    connections.close_all()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(submit, pendings))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_submissions_for_one_identity_give_one_entry():
    window = WindowFactory()
    pendings = [_verified_pending(window, i, "7512345678") for i in range(50)]

    outcomes = _submit_all(pendings, workers=50)

    assert sum(pk is not None for pk, _ in outcomes) == 1
    assert {code for _, code in outcomes if code} == {"already_registered"}
    assert Entry.objects.count() == 1


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_thousand_submissions_with_five_percent_duplicates():
    window = WindowFactory()
    identities = [f"76{i:08d}" for i in range(950)]
    identities += identities[:50]  # 5 % duplicates
    pendings = [_verified_pending(window, i, ident) for i, ident in enumerate(identities)]

    outcomes = _submit_all(pendings, workers=100)

    assert Entry.objects.count() == 950
    assert sum(code == "already_registered" for _, code in outcomes) == 50
    assert all(code in (None, "already_registered") for _, code in outcomes)


def test_receipt_sms_fits_one_part_and_its_link_opens_the_signed_receipt(client, window):
    entry = _register(window)
    message = OutboxMessage.objects.get(dedup_key=f"receipt:{entry.entry_id}")
    link = re.search(r"https?://\S+", message.body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]

    response = client.get("/" + path, follow=True)

    assert len(message.body) <= 160
    assert message.body.isascii()
    assert response.status_code == 200
    assert entry.entry_id.encode() in response.content


# --- Statements per request (guards: these counts must not silently grow back) -----------------
# Counted inside the test's transaction, so a request's own transaction shows as a SAVEPOINT and
# a RELEASE (in production a BEGIN and a COMMIT). Before the work on docs/benchmarks.md
# "Registration" section, the same count was: start 20, verify 8, submit 20.
# start: window with its open procedures, user, contact, device, pending, code issued, audit,
# message (a known contact: user refused by its unique name, contact read, device read). On
# PostgreSQL start has no transaction of its own: the window, then one statement, known contact
# or new (accounts.together.chain, otp.contact_with_code): the user, contact and device, the
# code issued, the audit row, the message and the pending registration; and submit is its
# read then one statement that claims the pending registration and writes the person, the
# entry, the mark, the audit row and the receipt's message, with no transaction of its own.
# verify: pending, code spent, contact verified, audit, pending verified (no transaction of its
# own on PostgreSQL, where it is one statement). submit: locked pending with its window's open
# procedures, person, entry, pending, audit, receipt message. On PostgreSQL each request's last
# writes go as one statement (accounts.together): start's code, audit and message, verify's
# code, contact, audit and pending, submit's pending, audit and message.
_TOGETHER = connection.vendor == "postgresql"
START_QUERIES = 2 if _TOGETHER else 8 + 2
# A start on a window this process read a moment ago: the statement alone on PostgreSQL (it
# checks the window again, by database time); elsewhere the window's check is asked again.
START_QUERIES_RECENT_WINDOW = 1 if _TOGETHER else 8 + 2
VERIFY_QUERIES = 2 if _TOGETHER else 5
SUBMIT_QUERIES = 2 if _TOGETHER else 6 + 2


def _api(client, path, payload, **headers):
    return client.post(path, payload, content_type="application/json", **headers)


def test_api_registration_statements_per_request(client, window, django_assert_num_queries):
    payload = _api_payload(window)

    with django_assert_num_queries(START_QUERIES):
        started = _api(client, "/api/v1/registrations/", payload)
    token = started.json()["token"]
    code = _last_code(Contact.objects.get())
    with django_assert_num_queries(VERIFY_QUERIES):
        verified = _api(client, "/api/v1/registrations/verify/", {"token": token, "code": code})
    with django_assert_num_queries(SUBMIT_QUERIES):
        submitted = _api(client, "/api/v1/registrations/submit/", {"token": token})

    assert (started.status_code, verified.status_code, submitted.status_code) == (202, 200, 201)
    assert submitted.json()["entry_id"] == Entry.objects.get().entry_id


def test_api_start_costs_the_same_statements_for_a_known_contact_and_a_new_one(client, window):
    """Known or new, a contact costs the same statements: the time of the answer says little
    about whether a phone or e-mail was used before (docs/benchmarks.md)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements(phone: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            started = _api(client, "/api/v1/registrations/", {**payload, "contact": phone})
        assert started.status_code == 202
        return len(queries)

    payload = _api_payload(window)
    first = statements("+33612345670")  # the window read, then kept a moment
    new = statements("+33612345671")
    from accounts import otp

    otp.get_or_create_contact(kind="phone", value="+33612345672")
    known = statements("+33612345672")

    assert first == START_QUERIES
    assert new == START_QUERIES_RECENT_WINDOW
    assert known == new
    assert Contact.objects.count() == 3


def test_register_wrong_code_is_counted_then_refused(window):
    pending = registration.start_registration(
        window=window, data=_input(window), client_ip="10.0.0.1", proof_ok=True
    )
    wrong = f"{(int(_last_code(pending.contact)) + 1) % 10**6:06d}"

    with pytest.raises(DomainError) as refused:
        registration.verify_registration(pending=pending, code=wrong)

    assert refused.value.code == "code_wrong"
    pending.refresh_from_db()
    assert pending.verified_at is None
    assert pending.contact.device.__class__.objects.get(pk=pending.contact.device.pk).attempts == 1


def test_register_second_entry_on_a_contact_takes_the_next_seat(prefecture):
    first_window, second_window = (
        WindowFactory(prefecture=prefecture),
        WindowFactory(prefecture=prefecture),
    )
    first = _register(first_window, identifier="7500000001")
    cache.clear()

    second = _register(second_window, identifier="7500000002")

    assert (first.contact_seat, second.contact_seat) == (1, 2)
    assert first.contact_id == second.contact_id


def test_register_full_contact_is_refused_before_duplicates_are_looked_at(prefecture):
    windows = _contact_with_three_entries(prefecture)

    # The same person again (a duplicate), from the full contact: the answer says "full", not
    # "already registered", so a full contact cannot probe who is registered.
    with pytest.raises(DomainError) as refused:
        _register(windows[3], identifier="7500000000")

    assert refused.value.code == "contact_full"
    assert Entry.objects.count() == 3


def test_register_with_sites_stores_them(window):
    site = SiteFactory(prefecture=window.prefecture)

    entry = _register(window, sites=(site.code,))

    assert list(entry.sites.all()) == [site]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_starts_with_one_idempotency_key_send_one_code():
    from tests.conftest import run_concurrently

    window = WindowFactory()

    def start():
        return registration.start_registration(
            window=window,
            data=_input(window),
            client_ip="10.0.0.1",
            proof_ok=True,
            idempotency_key="same-key",
        ).pk

    outcomes = run_concurrently(*[start] * 8)

    assert [exc for _pk, exc in outcomes] == [None] * 8
    assert len({pk for pk, _exc in outcomes}) == 1
    assert PendingRegistration.objects.count() == 1
    assert OutboxMessage.objects.count() == Contact.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_use_of_one_contact_creates_it_once():
    from accounts import otp
    from tests.conftest import run_concurrently

    def create():
        return otp.get_or_create_contact(kind="phone", value="+33612345678").pk

    outcomes = run_concurrently(*[create] * 10)

    assert [exc for _pk, exc in outcomes] == [None] * 10
    assert len({pk for pk, _exc in outcomes}) == 1
    assert Contact.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_submits_of_one_registration_give_one_entry_and_one_receipt():
    from accounts.models import AuditEvent

    window = WindowFactory()
    pending = _verified_pending(window, 1, "7512345678")

    outcomes = _submit_all([pending] * 10, workers=10)

    assert {outcome for outcome in outcomes} == {(Entry.objects.get().pk, None)}
    entry = Entry.objects.get()
    assert PendingRegistration.objects.get().entry_id == entry.pk
    assert OutboxMessage.objects.filter(dedup_key=f"receipt:{entry.entry_id}").count() == 1
    assert AuditEvent.objects.filter(action="entry.registered").count() == 1


def test_a_submit_writes_its_mark_audit_row_and_receipt_with_the_entry(window):
    from accounts.models import AuditEvent

    entry = _register(window)

    event = AuditEvent.objects.get(action="entry.registered")
    assert (event.target_type, event.target_id) == ("entry", str(entry.pk))
    assert event.data == {"entry_id": entry.entry_id, "channel": entry.channel}
    assert PendingRegistration.objects.get().entry_id == entry.pk
    assert Entry.objects.get(pk=entry.pk).person_id == entry.person_id
    receipt = OutboxMessage.objects.get(dedup_key=f"receipt:{entry.entry_id}")
    assert entry.pseudonym in receipt.body


def _while_one_waits_on_a_lock(hold, wait):
    """Run `hold` (which takes a `release` event and holds its transaction open until it is
    set) and, once `hold` has written, `wait`, which must then queue on one of hold's rows;
    release `hold` only once PostgreSQL shows `wait` waiting on a lock. Returns both results."""
    import threading
    import time

    from django.db import transaction

    written, release, results = threading.Event(), threading.Event(), {}

    def run(name, function):
        try:
            results[name] = function()
        finally:
            connections.close_all()

    def holder():
        with transaction.atomic():
            value = hold()
            written.set()
            release.wait(10)
        return value

    def waiter():
        written.wait(10)
        return wait()

    threads = [
        threading.Thread(target=run, args=("hold", holder)),
        threading.Thread(target=run, args=("wait", waiter)),
    ]
    for thread in threads:
        thread.start()
    written.wait(10)
    deadline = time.monotonic() + 10
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the second request never waited on the first one's row")
    release.set()
    for thread in threads:
        thread.join(10)
    return results["hold"], results["wait"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_contact_created_while_its_first_use_waits_is_read_once_committed():
    """The one-statement way (accounts.together.chain) sees nothing when the contact was
    committed after its snapshot: the contact is read again, never created twice."""
    from django.test.utils import CaptureQueriesContext

    from accounts import otp

    def create():
        contact = otp.get_or_create_contact(kind="phone", value="+33612345678")
        return contact.pk, contact.device.pk

    def create_counting():
        with CaptureQueriesContext(connections["default"]) as queries:
            made = create()
        return made, [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "COMMIT")]

    held, (waited, statements) = _while_one_waits_on_a_lock(create, create_counting)

    assert waited == held
    # The statement that waited, then the contact and its device read.
    assert len(statements) == 3 and "WITH" in statements[0]
    assert Contact.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_start_whose_new_contact_is_committed_meanwhile_registers_with_it():
    """otp.contact_with_code sees nothing when the contact was committed after its snapshot,
    writes nothing, and start goes the usual way with that contact."""
    from accounts import otp

    window = WindowFactory()

    def create():
        return otp.get_or_create_contact(kind="phone", value="+33612345678").pk

    def start():
        pending = _start(window, contact="+33612345678")
        return pending.contact_id, pending.pk

    contact_id, (pending_contact_id, pending_pk) = _while_one_waits_on_a_lock(create, start)

    assert pending_contact_id == contact_id
    assert PendingRegistration.objects.get().pk == pending_pk
    assert OutboxMessage.objects.count() == Contact.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_start_whose_known_contact_gets_a_code_meanwhile_sends_its_own_after():
    """The code's conditional UPDATE in otp.contact_with_code finds the device changed after
    its snapshot: nothing of that statement is written, and start issues the code on the
    locked row (otp.issue_code)."""
    from accounts import otp

    window = WindowFactory()
    contact = otp.get_or_create_contact(kind="phone", value="+33612345678")

    def other_code():
        otp.issue_code(contact=contact)

    def start():
        return _start(window, contact="+33612345678").pk

    _none, pending_pk = _while_one_waits_on_a_lock(other_code, start)

    device = Contact.objects.get().device
    assert device.sent_count == 2
    assert PendingRegistration.objects.get().pk == pending_pk
    assert OutboxMessage.objects.filter(dedup_key__startswith="otp:").count() == 2
    assert OutboxMessage.objects.filter(dedup_key=f"otp:{device.pk}:2").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_person_registered_while_a_submit_waits_gets_the_entry_once_committed():
    from accounts.models import Person

    window = WindowFactory()
    pending = _verified_pending(window, 1, "7512345678")
    answers = json.loads(pending.payload)

    def register_person():
        return registration._person_id(answers)

    def submit():
        return registration.submit_registration(pending=pending).person_id

    person_id, entry_person_id = _while_one_waits_on_a_lock(register_person, submit)

    assert entry_person_id == person_id
    assert Person.objects.count() == 1
    assert Entry.objects.get().person_id == person_id


def test_api_serializers_bind_fresh_fields_to_each_request(window):
    from booking.api import EntryOutput, StartInput

    payload = _api_payload(window)
    first = StartInput(data={**payload, "sites": ["X" * 33]})
    second = StartInput(data={**payload, "excluded_weekdays": ["8"]})

    assert not first.is_valid() and not second.is_valid()
    assert set(first.errors) == {"sites"} and set(second.errors) == {"excluded_weekdays"}
    assert first.fields["sites"] is not second.fields["sites"]
    assert first.fields["sites"].parent is first and second.fields["sites"].parent is second
    entry = _register(window)
    assert EntryOutput(entry).data["receipt"] == registration.receipt_token(entry)


def test_openapi_schema_and_docs_page_describe_the_registration_api(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200 and docs.status_code == 200
    spec = schema.json()
    for path in ("", "verify/", "submit/", "status/"):
        assert f"/api/v1/registrations/{path}" in spec["paths"]
    start = spec["components"]["schemas"]["StartInput"]
    assert {"window", "procedure", "identifier", "contact", "proof"} <= set(start["properties"])
    assert "status" not in start["properties"]  # not an input: mass assignment is refused
