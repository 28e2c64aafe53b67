"""One-time codes: tries, lockouts and sending limits, at their edges, with a frozen clock."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from accounts import otp
from accounts.models import ContactCodeDevice, OutboxMessage
from config.errors import Busy, DomainError, Throttled


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def contact(db):
    return otp.get_or_create_contact(kind="phone", value="+33612345678")


def _code() -> str:
    message = OutboxMessage.objects.filter(dedup_key__startswith="otp:").latest("id")
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


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


def test_fifth_wrong_try_spends_the_code(contact):
    otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
    code = _code()
    for _ in range(5):
        with pytest.raises(DomainError) as wrong:
            otp.verify_code(contact=contact, code=_wrong(code))
        assert wrong.value.code == "code_wrong"

    with pytest.raises(DomainError) as spent:
        otp.verify_code(contact=contact, code=code)

    assert spent.value.code == "code_expired"


def test_ten_failures_lock_fifteen_minutes_then_thirty(contact):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for round_ in range(2):
            for _ in range(2):
                clock.shift(timedelta(minutes=16))
                cache.clear()
                otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
                for _ in range(5):
                    with pytest.raises(DomainError):
                        otp.verify_code(contact=contact, code="000000")
            device = ContactCodeDevice.objects.get(contact=contact)
            expected = timedelta(minutes=15 * 2**round_)
            assert device.locked_until == timezone.now() + expected
            with pytest.raises(Throttled):
                otp.verify_code(contact=contact, code="000000")
            clock.shift(expected - timedelta(seconds=1))
            with pytest.raises(Throttled):
                otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
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


def test_without_proof_of_work_the_ip_limit_is_stricter(db):
    contacts = [otp.get_or_create_contact(kind="phone", value=f"+3361234560{i}") for i in range(6)]
    for contact in contacts[:5]:
        otp.send_code(contact=contact, client_ip="2.2.2.2", proof_ok=False)

    with pytest.raises(Throttled):
        otp.send_code(contact=contacts[5], client_ip="2.2.2.2", proof_ok=False)
    otp.send_code(contact=contacts[5], client_ip="3.3.3.3", proof_ok=True)


def test_sending_fails_closed_when_the_rate_limit_store_is_down(contact, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(cache, "add", broken)

    with pytest.raises(Busy):
        otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
    assert OutboxMessage.objects.count() == 0


def test_codes_never_reach_the_logs(contact, caplog):
    caplog.set_level("DEBUG")
    otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
    code = _code()
    otp.verify_code(contact=contact, code=code)

    assert code not in caplog.text
