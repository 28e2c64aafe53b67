"""One-time codes: tries, lockouts and sending limits, at their edges, with a frozen clock."""

import os
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone

from accounts import otp, ratelimit
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


def test_a_contacts_user_has_an_unusable_password_of_its_own(db):
    first = otp.get_or_create_contact(kind="phone", value="+33612345678").user
    second = otp.get_or_create_contact(kind="email", value="a@example.org").user
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


def _broken_local_cache():
    def broken(*args, **kwargs):
        raise ConnectionError("store down")

    store = LocMemCache("broken", {})
    store.add = store.incr = store.get = store.set = broken
    return store


@pytest.mark.parametrize(
    "down",
    [
        pytest.param(lambda: RedisCache("redis://127.0.0.1:1/0", {}), id="redis-unreachable"),
        pytest.param(_broken_local_cache, id="local-cache-failing"),
    ],
)
def test_sending_fails_closed_when_the_rate_limit_store_is_down(contact, monkeypatch, down):
    monkeypatch.setattr(ratelimit, "_store", down)

    with pytest.raises(Busy):
        otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
    assert OutboxMessage.objects.count() == 0


def test_codes_never_reach_the_logs(contact, caplog):
    caplog.set_level("DEBUG")
    otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)
    code = _code()
    otp.verify_code(contact=contact, code=code)

    assert code not in caplog.text


# --- Rate-limit store: the same rules on Redis (one Lua script) and on the local cache --------


@pytest.fixture(
    params=[
        "local",
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def store(request, monkeypatch):
    if request.param == "redis":
        backend = RedisCache(os.environ["REDIS_URL"], {})
    else:
        backend = LocMemCache(f"ratelimit-{request.node.name}", {})
    backend.clear()
    monkeypatch.setattr(ratelimit, "_store", lambda: backend)
    yield backend
    backend.clear()


def _refusal(*rules) -> str | None:
    try:
        ratelimit.check(*rules)
    except Throttled as exc:
        return exc.code
    return None


def test_rate_limit_stops_at_the_first_refusal_and_keeps_earlier_counts(store):
    rules = (ratelimit.Hit("ip:x", 2, 3600), ratelimit.Cooldown("send:1", 60))
    with time_machine.travel(timezone.now().replace(minute=0, second=1), tick=False) as clock:
        outcomes = [_refusal(*rules) for _ in range(3)]
        clock.shift(timedelta(seconds=61))
        after_cooldown = _refusal(ratelimit.Cooldown("send:1", 60))

    # The second request was refused by the cooldown, yet its address hit was counted.
    assert outcomes == [None, "code_cooldown", "too_many_requests"]
    assert after_cooldown is None


def test_rate_limit_counts_per_fixed_window(store):
    with time_machine.travel(timezone.now().replace(minute=0, second=1), tick=False) as clock:
        inside = [_refusal(ratelimit.Hit("k", 3, 900)) for _ in range(4)]
        clock.shift(timedelta(minutes=15))
        next_window = _refusal(ratelimit.Hit("k", 3, 900))

    assert inside == [None, None, None, "too_many_requests"]
    assert next_window is None


def test_rate_limit_cooldown_reports_when_it_ends(store):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        ratelimit.check(ratelimit.Cooldown("send:2", 60))
        clock.shift(timedelta(seconds=20))
        with pytest.raises(Throttled) as early:
            ratelimit.check(ratelimit.Cooldown("send:2", 60))

    assert early.value.retry_after == 41


@pytest.mark.redis
def test_sending_a_code_checks_every_limit_in_one_redis_round_trip(contact, monkeypatch):
    import redis

    monkeypatch.setattr(ratelimit, "_store", lambda: RedisCache(os.environ["REDIS_URL"], {}))
    otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)  # loads the script
    commands = []
    execute = redis.Redis.execute_command

    def counting(self, *args, **kwargs):
        commands.append(args[0])
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        otp.send_code(contact=contact, client_ip="1.1.1.1", proof_ok=True)

    assert commands == ["EVALSHA"]
    assert OutboxMessage.objects.count() == 2
