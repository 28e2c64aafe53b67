"""A stranger cannot lock a person out: what an outsider's client would try, over HTTP.

- codes asked for someone else's phone do not keep its owner out ("I already have a code");
- wrong codes typed by a stranger lock a contact for an hour at most (and never make an offer
  lapse: tests/lottery/test_lockout_extension.py);
- a flood of new contacts cannot spend the SMS kept for verified ones, nor touch e-mail;
- API clients prove work unless they hold a partner key of the window's prefecture;
- an Idempotency-Key belongs to its client.
"""

import re

import pytest
import time_machine
from django.utils import timezone

from accounts import contacts, otp, ratelimit
from accounts.crypto import blind_index
from accounts.models import Contact, ContactCodeDevice, OutboxMessage, Role
from booking import partners
from booking.models import DuplicateFlag, Entry, PendingRegistration
from config.errors import Throttled
from tests.answers import api_answers, form_answers, solved_proof
from tests.factories import StaffFactory

VICTIM = "06 12 34 56 78"
VICTIM_E164 = "+33612345678"


@pytest.fixture(autouse=True)
def _fresh_limits():
    ratelimit.reset()
    yield
    ratelimit.reset()


def _codes_to(value: str) -> list[str]:
    """The codes sent to `value`, oldest first, as the phone received them."""
    messages = OutboxMessage.objects.filter(dedup_key__startswith="otp:").order_by("id")
    return [
        re.search(r"\b(\d{6})\b", message.body).group(1)
        for message in messages
        if message.recipient == value
    ]


def _ask_code(client, contact=VICTIM, kind="phone", ip="10.0.0.1"):
    return client.post(
        "/my/login/",
        {"contact_kind": kind, "contact": contact, "send": ""},
        REMOTE_ADDR=ip,
    )


def _enter_code(client, code, contact=VICTIM, kind="phone"):
    client.post("/my/login/", {"contact_kind": kind, "contact": contact, "have_code": ""})
    return client.post("/my/code/", {"code": code})


def test_codes_asked_by_a_stranger_do_not_keep_the_owner_out(client, db):
    stranger_answers = []
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for n in range(8):  # a stranger asks again and again, from many addresses
            response = _ask_code(client, ip=f"203.0.113.{n}")
            stranger_answers.append(response.status_code)
            clock.shift(61)  # past each code's cooldown
        sent = _codes_to(VICTIM_E164)
        owner = client.__class__()

        response = _enter_code(owner, sent[-1])  # the last code that reached the phone

    assert len(sent) == otp.SEND_LIMITS[-1][0] or len(sent) == otp.SEND_LIMITS[0][0]
    assert response.status_code == 302 and response["Location"] == "/my/"
    assert owner.get("/my/").status_code == 200


def test_sending_cap_on_a_phone_lasts_an_hour_at_most(client, db):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for n in range(6):
            _ask_code(client, ip=f"203.0.113.{n}")
            clock.shift(61)
        refused = _ask_code(client, ip="198.51.100.1")
        clock.shift(3600)
        before = len(_codes_to(VICTIM_E164))

        _ask_code(client, ip="198.51.100.2")
        after = len(_codes_to(VICTIM_E164))

    assert "my/code" not in refused.get("Location", "")
    assert after == before + 1


def test_wrong_codes_typed_by_a_stranger_lock_for_an_hour_at_most(client, db):
    _ask_code(client)
    contact = Contact.objects.get(value_hash=blind_index("contact", VICTIM_E164))
    device = ContactCodeDevice.objects.get(contact=contact)
    device.lock_count = 5  # locked many times before: the doubling would reach 8 hours
    device.save()

    for _ in range(otp.FAILURES_BEFORE_LOCK // otp.MAX_TRIES_PER_CODE):
        otp.issue_code(contact=contact)
        for _ in range(otp.MAX_TRIES_PER_CODE):
            otp.check_code(contact=contact, code="000000")
    device.refresh_from_db()

    assert device.locked_until is not None
    assert device.locked_until - timezone.now() <= otp.LOCK_MAX


def test_too_many_wrong_codes_say_so(client, db):
    _ask_code(client)
    contact = Contact.objects.get(value_hash=blind_index("contact", VICTIM_E164))
    for _ in range(otp.MAX_TRIES_PER_CODE):
        _enter_code(client, "000000")

    response = _enter_code(client, _codes_to(VICTIM_E164)[-1])

    assert response.context["form"].non_field_errors() == [
        "Vous avez saisi un code faux trop de fois. Demandez un nouveau code."
    ]
    assert Contact.objects.get(pk=contact.pk).verified_at is None


def test_a_refused_login_writes_nothing(client, db, settings):
    settings.SMS_DAILY_BUDGET = 0
    before = (Contact.objects.count(), OutboxMessage.objects.count())

    response = _ask_code(client, contact="06 99 88 77 66")

    assert response.status_code == 200  # the form again, with the error
    assert (Contact.objects.count(), OutboxMessage.objects.count()) == before


# --- The SMS budget under a flood -------------------------------------------------------------


def _flood(count: int) -> int:
    refused = 0
    for n in range(count):
        try:
            otp.start_login(
                kind="phone",
                value=f"+3361{n:07d}",
                client_ip=f"10.{n // 250}.{n % 250}.1",
                proof_ok=True,
            )
        except Throttled:
            refused += 1
    return refused


@pytest.mark.slow
def test_a_flood_of_new_contacts_leaves_verified_applicants_and_email(client, window, settings):
    settings.SMS_DAILY_BUDGET = 200
    verified = contacts.get_or_create_contact(kind="phone", value=VICTIM_E164)
    Contact.objects.filter(pk=verified.pk).update(verified_at=timezone.now())

    refused = _flood(1000)  # 1,000 new numbers from 1,000 addresses
    login = _ask_code(client, ip="192.0.2.10")
    registration = client.post(
        "/api/v1/registrations/",
        {**_answers(window), "contact_kind": "email", "contact": "amina@example.org"},
        content_type="application/json",
        REMOTE_ADDR="192.0.2.11",
    )

    assert refused == 1000 - 140  # the new contacts' share: 70 % of 200
    assert login.status_code == 302 and login["Location"] == "/my/code/"
    assert registration.status_code == 202, registration.json()


# --- The API: proof of work or a partner key --------------------------------------------------


def _answers(window, proof=True) -> dict:
    answers = api_answers(window, contact=VICTIM)
    return {**answers, "proof": solved_proof()} if proof else answers


def _api_start(client, body, **headers):
    return client.post("/api/v1/registrations/", body, content_type="application/json", **headers)


def test_api_start_without_proof_or_key_is_refused_and_writes_nothing(client, window):
    response = _api_start(client, _answers(window, proof=False))

    assert response.status_code == 400
    assert response.json()["code"] == "proof_required"
    assert list(response.json()["fields"]) == ["proof"]
    assert (Contact.objects.count(), PendingRegistration.objects.count()) == (0, 0)


def test_api_start_with_a_partner_key_needs_no_proof(client, window):
    supervisor = StaffFactory(role=Role.SUPERVISOR, prefecture=window.prefecture)
    _partner, key = partners.create_partner_key(
        prefecture=window.prefecture, name="Cimade", actor=supervisor
    )

    response = _api_start(client, _answers(window, proof=False), HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 202
    assert response.json()["status"] == "code_sent"


def test_api_partner_key_of_another_prefecture_or_revoked_is_refused(
    client, window, other_prefecture
):
    other = StaffFactory(role=Role.SUPERVISOR, prefecture=other_prefecture)
    _foreign, foreign_key = partners.create_partner_key(
        prefecture=other_prefecture, name="Elsewhere", actor=other
    )
    supervisor = StaffFactory(role=Role.SUPERVISOR, prefecture=window.prefecture)
    revoked, revoked_key = partners.create_partner_key(
        prefecture=window.prefecture, name="Old", actor=supervisor
    )
    partners.revoke_partner_key(partner=revoked, actor=supervisor)

    answers = [
        _api_start(client, _answers(window, proof=False), HTTP_AUTHORIZATION=f"Bearer {key}")
        for key in (foreign_key, revoked_key, "fsk_made-up")
    ]

    assert [(a.status_code, a.json()["code"]) for a in answers] == [
        (401, "partner_key_invalid")
    ] * 3


def test_partner_keys_are_created_by_a_supervisor_of_the_prefecture_only(window):
    agent = StaffFactory(role=Role.AGENT, prefecture=window.prefecture)

    with pytest.raises(Exception) as refused:
        partners.create_partner_key(prefecture=window.prefecture, name="X", actor=agent)

    assert refused.value.code == "forbidden"


def test_partner_key_is_stored_hashed(window):
    supervisor = StaffFactory(role=Role.SUPERVISOR, prefecture=window.prefecture)

    partner, key = partners.create_partner_key(
        prefecture=window.prefecture, name="Cimade", actor=supervisor
    )

    assert key.startswith("fsk_") and key not in partner.key_hash


# --- Idempotency keys belong to their client --------------------------------------------------


def test_shared_idempotency_key_never_returns_another_persons_token(client, window):
    first = _api_start(client, _answers(window), HTTP_IDEMPOTENCY_KEY="same-key")
    other_person = {**_answers(window), "contact": "06 98 76 54 32", "identifier": "7500000001"}

    second = _api_start(client, other_person, HTTP_IDEMPOTENCY_KEY="same-key")

    assert first.status_code == second.status_code == 202
    assert first.json()["token"] != second.json()["token"]


def test_idempotency_key_retry_returns_the_same_registration_without_a_new_code(client, window):
    body = _answers(window)
    first = _api_start(client, body, HTTP_IDEMPOTENCY_KEY="retry-1")
    codes = len(_codes_to(VICTIM_E164))

    again = _api_start(client, {**body, "proof": solved_proof()}, HTTP_IDEMPOTENCY_KEY="retry-1")

    assert again.status_code == 202
    assert again.json()["token"] == first.json()["token"]
    assert len(_codes_to(VICTIM_E164)) == codes


def test_idempotency_key_reused_with_other_answers_is_422(client, window):
    _api_start(client, _answers(window), HTTP_IDEMPOTENCY_KEY="k-1")

    changed = _api_start(
        client, {**_answers(window), "family_name": "Other"}, HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_key_reused"


# --- One person, several documents ------------------------------------------------------------


def _register_over_api(client, window, **changes):
    body = {**_answers(window), **changes}
    token = _api_start(client, body).json()["token"]
    code = _codes_to(OutboxMessage.objects.latest("id").recipient)[-1]
    client.post("/api/v1/registrations/verify/", {"token": token, "code": code}, "application/json")
    return client.post("/api/v1/registrations/submit/", {"token": token}, "application/json")


def test_same_names_under_another_document_are_flagged_silently(client, window):
    first = _register_over_api(client, window)
    second = _register_over_api(
        client,
        window,
        identity_kind="passport",
        identifier="P00700145",
        contact="06 98 76 54 32",
    )

    assert first.status_code == second.status_code == 201
    assert set(second.json()) == {
        "entry_id",
        "pseudonym",
        "window",
        "status",
        "registered_at",
        "receipt",
    }  # nothing in the answer says it was flagged
    flagged = Entry.objects.get(entry_id=second.json()["entry_id"])
    assert DuplicateFlag.objects.filter(entry=flagged).count() == 1
    assert not DuplicateFlag.objects.filter(entry__entry_id=first.json()["entry_id"]).exists()


def test_passport_variants_make_one_entry(client, window):
    passport = {"identity_kind": "passport", "nationality": "AF"}
    first = _register_over_api(client, window, identifier="P00700145", **passport)

    second = _register_over_api(
        client, window, identifier="0p-007 00145", contact="06 98 76 54 32", **passport
    )

    assert first.status_code == 201
    assert second.status_code == 409 and second.json()["code"] == "already_registered"


@pytest.mark.parametrize(
    ("national", "e164"),
    [
        ("0690 12 34 56", "+590690123456"),
        ("0691 28 12 34", "+590691281234"),
        ("0694 12 40 07", "+594694124007"),
        ("0696 12 34 56", "+596696123456"),
        ("0697 01 23 45", "+596697012345"),
        ("0692 12 34 56", "+262692123456"),
        ("0693 00 12 34", "+262693001234"),
        ("0639 01 23 45", "+262639012345"),
    ],
)
def test_overseas_mobiles_in_national_form_register(client, window, national, e164):
    response = _api_start(client, {**_answers(window), "contact": national})

    assert response.status_code == 202, response.json()
    assert _codes_to(e164)


def test_api_start_with_a_proof_when_redis_is_down_is_a_clean_503(client, window, monkeypatch):
    import redis

    from accounts import pow as pow_module

    def down(*args, **kwargs):
        raise redis.ConnectionError("redis down")

    body = _answers(window)
    monkeypatch.setattr(pow_module.cache, "add", down)

    response = _api_start(client, body)

    assert response.status_code == 503
    assert response.json()["code"] == "service_busy"
    assert response["Retry-After"] == "60"
    assert PendingRegistration.objects.count() == 0


def test_an_office_without_javascript_registers_thirty_people_an_hour(window):
    from datetime import date

    from booking import registration

    started = []
    for n in range(30):  # one address, no proof of work: a family or an association's office
        data = registration.RegistrationInput(
            procedure=window.procedures.first().code,
            identity_kind="agdref",
            identifier=f"{7500000100 + n}",
            given_names="Amina",
            family_name=f"Person{n}",
            birth_date=date(1990, 1, 1),
            nationality="AF",
            contact_kind="email",
            contact=f"person{n}@example.org",
        )
        pending = registration.start_registration(
            window=window, data=data, client_ip="192.0.2.50", proof_ok=False
        )
        started.append(pending.pk)

    assert len(set(started)) == 30


def test_send_a_new_code_says_when_it_can(client, window):
    from booking import views

    start = client.post(f"/register/{window.code}/", form_answers(window, contact=VICTIM))
    assert start.status_code == 302, start.content.decode()[:2000]

    # Within the minute's cooldown.
    again = client.post("/register/resend/", follow=True, HTTP_ACCEPT_LANGUAGE="en")

    page = again.content.decode()
    assert views.PENDING_KEY in client.session
    assert "You can ask again in 1 minute." in page
