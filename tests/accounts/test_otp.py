"""One-time codes: tries, lockouts and sending limits, at their edges, with a frozen clock."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from limits.strategies import MovingWindowRateLimiter

from accounts import contacts, otp, ratelimit
from accounts.models import ContactCodeDevice, OutboxMessage
from config.errors import Busy, DomainError, Throttled


@pytest.fixture
def contact(db):
    return contacts.get_or_create_contact(kind="phone", value="+33612345678")


def _code() -> str:
    message = OutboxMessage.objects.filter(dedup_key__startswith="otp:").latest("id")
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_contacts_user_has_an_unusable_password_of_its_own(db):
    first = contacts.get_or_create_contact(kind="phone", value="+33612345678").user
    second = contacts.get_or_create_contact(kind="email", value="a@example.org").user
    first.refresh_from_db()
    second.refresh_from_db()

    assert not first.has_usable_password() and not second.has_usable_password()
    assert not first.check_password("") and not first.check_password(first.password)
    assert first.password != second.password  # a random part, as Django's own
    assert len(first.password) >= 41


def test_code_is_stored_hashed_and_single_use(contact):
    otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
    code = _code()

    assert code not in ContactCodeDevice.objects.get(contact=contact).token
    otp.verify_code(contact=contact, code=code)
    with pytest.raises(DomainError) as again:
        otp.verify_code(contact=contact, code=code)
    assert again.value.code == "code_expired"


def test_code_expires_after_ten_minutes(contact):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
        clock.shift(timedelta(minutes=10, seconds=1))

        with pytest.raises(DomainError) as late:
            otp.verify_code(contact=contact, code=_code())

    assert late.value.code == "code_expired"


def test_new_code_voids_the_previous_one(contact):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
        first = _code()
        clock.shift(timedelta(seconds=61))
        otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
        second = _code()

        if first != second:
            with pytest.raises(DomainError):
                otp.verify_code(contact=contact, code=first)
        otp.verify_code(contact=contact, code=second)


def test_fifth_wrong_try_spends_the_code_and_says_so(contact):
    otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
    code = _code()
    for _ in range(5):
        with pytest.raises(DomainError) as wrong:
            otp.verify_code(contact=contact, code=_wrong(code))
        assert wrong.value.code == "code_wrong"

    with pytest.raises(DomainError) as spent:
        otp.verify_code(contact=contact, code=code)

    assert spent.value.code == "code_too_many_tries"
    assert ContactCodeDevice.objects.get(contact=contact).token is None


def test_a_new_code_after_too_many_tries_can_be_used(contact):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
        for _ in range(5):
            with pytest.raises(DomainError):
                otp.verify_code(contact=contact, code=_wrong(_code()))
        clock.shift(timedelta(seconds=61))
        otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)

        otp.verify_code(contact=contact, code=_code())

    assert ContactCodeDevice.objects.get(contact=contact).attempts == 0


def test_ten_failures_lock_fifteen_minutes_doubling_up_to_an_hour(contact):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for expected in (timedelta(minutes=15), timedelta(minutes=30), otp.LOCK_MAX, otp.LOCK_MAX):
            for _ in range(2):
                clock.shift(timedelta(minutes=16))
                ratelimit.reset()  # past the sending limits: only the lock is looked at
                otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
                for _ in range(5):
                    with pytest.raises(DomainError):
                        otp.verify_code(contact=contact, code="000000")
            device = ContactCodeDevice.objects.get(contact=contact)
            assert device.locked_until == timezone.now() + expected
            with pytest.raises(Throttled) as locked:
                otp.verify_code(contact=contact, code="000000")
            assert locked.value.code == "contact_locked"
            clock.shift(expected - timedelta(seconds=1))
            ratelimit.reset()
            with pytest.raises(Throttled) as still_locked:
                otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
            assert still_locked.value.code == "contact_locked"
            clock.shift(timedelta(seconds=2))


def test_sending_cooldown_sixty_seconds(contact):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
        with pytest.raises(Throttled) as early:
            otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
        clock.shift(timedelta(seconds=61))
        otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)

    assert early.value.code == "code_cooldown"
    assert OutboxMessage.objects.count() == 2


def test_at_most_three_sends_per_quarter_hour(contact):
    start = timezone.now().replace(minute=0, second=1, microsecond=0) + timedelta(hours=1)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(3):
            otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
            clock.shift(timedelta(seconds=61))
        with pytest.raises(Throttled) as fourth:
            otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)

    assert fourth.value.code == "too_many_requests"
    assert OutboxMessage.objects.count() == 3


def _codes_let_through(client_ip: str, proof_ok: bool) -> tuple[int, str]:
    """How many codes one address gets sent to new contacts before it is refused, and why."""
    for index in range(100):
        contact = contacts.get_or_create_contact(
            kind="phone", value=f"+336{client_ip[-1]}{index:07d}"
        )
        try:
            otp.send_code(contact=contact, client_ip=client_ip, proof_ok=proof_ok)
        except Throttled as refused:
            return index, refused.code
    return 100, ""


def test_an_address_gets_its_hourly_codes_with_or_without_proof_of_work(db):
    with_proof = _codes_let_through("10.0.0.1", proof_ok=True)
    without_proof = _codes_let_through("10.0.0.2", proof_ok=False)

    assert with_proof == (otp.IP_LIMIT_WITH_PROOF, "too_many_requests")
    assert without_proof == (otp.IP_LIMIT_WITHOUT_PROOF, "too_many_requests")


def test_a_proof_of_work_never_lowers_an_addresses_limit(db):
    with_proof, _refusal = _codes_let_through("10.0.0.1", proof_ok=True)
    without_proof, _refusal = _codes_let_through("10.0.0.2", proof_ok=False)

    assert with_proof >= without_proof


@pytest.fixture
def dead_store(monkeypatch):
    """The rate-limit store down: nothing listens on port 1."""
    dead = MovingWindowRateLimiter(ratelimit._storage("redis://127.0.0.1:1/0"))
    monkeypatch.setattr(ratelimit, "_limiter", dead)


def test_sending_fails_closed_when_the_rate_limit_store_is_down(contact, dead_store):
    with pytest.raises(Busy) as refused:
        otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)

    assert refused.value.code == "service_busy"
    assert OutboxMessage.objects.count() == 0
    assert ContactCodeDevice.objects.get(contact=contact).sent_count == 0


def test_a_code_already_sent_can_be_used_while_the_rate_limit_store_is_down(contact, request):
    otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
    request.getfixturevalue("dead_store")

    otp.verify_code(contact=contact, code=_code())

    assert ContactCodeDevice.objects.get(contact=contact).contact.verified_at is not None


def test_codes_never_reach_the_logs(contact, caplog):
    caplog.set_level("DEBUG")
    otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
    code = _code()
    otp.verify_code(contact=contact, code=code)

    assert code not in caplog.text
