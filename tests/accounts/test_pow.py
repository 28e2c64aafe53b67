"""Proof of work: single use, expiry, forgery, junk input, difficulty from the SMS budget."""

import base64
import hashlib
import json
import os
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone
from limits.strategies import MovingWindowRateLimiter

from accounts import pow, ratelimit, sms_budget
from config.errors import Busy

EASY = 1_000  # keeps solving quick; the difficulty itself is tested on `maxnumber`
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: every call is refused
DEAD_CACHE = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DEAD_REDIS}
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def memory_limits(monkeypatch):
    monkeypatch.setattr(ratelimit, "_limiter", MovingWindowRateLimiter(ratelimit._storage(None)))


def _solved(max_number: int = EASY) -> tuple[dict, str]:
    challenge = pow.create_challenge(max_number=max_number)
    return challenge, pow.encode_solution(challenge, pow.solve(challenge))


def _encoded(fields) -> str:
    return base64.b64encode(json.dumps(fields).encode()).decode()


def test_pow_solution_is_accepted_once():
    _, solution = _solved()

    outcomes = [pow.verify_solution(solution), pow.verify_solution(solution)]

    assert outcomes == [True, False]


def test_pow_challenge_is_what_the_widget_solves():
    challenge = pow.create_challenge(max_number=EASY)
    number = pow.solve(challenge)

    # booking/static/booking/altcha.js hashes salt + number and reads these names.
    digest = hashlib.sha256(f"{challenge['salt']}{number}".encode()).hexdigest()
    assert sorted(challenge) == ["algorithm", "challenge", "maxnumber", "salt", "signature"]
    assert (challenge["algorithm"], challenge["maxnumber"]) == ("SHA-256", EASY)
    assert digest == challenge["challenge"]


def test_pow_wrong_number_is_refused():
    challenge = pow.create_challenge(max_number=EASY)
    wrong = (pow.solve(challenge) + 1) % (EASY + 1)

    assert pow.verify_solution(pow.encode_solution(challenge, wrong)) is False


def test_pow_solution_expires_after_ten_minutes():
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _, on_time = _solved()
        _, late = _solved()
        clock.shift(timedelta(minutes=9, seconds=59))
        accepted = pow.verify_solution(on_time)
        clock.shift(timedelta(seconds=2))
        expired = pow.verify_solution(late)

    assert (accepted, expired) == (True, False)


def test_pow_challenge_signed_with_another_key_is_refused(settings):
    ours = settings.SECRET_KEY
    settings.SECRET_KEY = "another-secret-key-0123456789abcdef0123456789"
    _, forged = _solved()
    settings.SECRET_KEY = ours

    assert pow.verify_solution(forged) is False


def test_pow_solution_is_accepted_whatever_difficulty_it_was_issued_with(settings, memory_limits):
    settings.SMS_DAILY_BUDGET = 10
    _, tiny = _solved(max_number=10)
    _, easy = _solved(max_number=5_000)
    for _ in range(7):  # the new contacts' share is spent: challenges are now the hardest
        sms_budget.check_sms(country_code=33, verified=False)

    outcomes = [pow.create_challenge()["maxnumber"], pow.verify_solution(tiny)]

    assert outcomes == [pow.HARDEST, True]
    assert pow.verify_solution(easy) is True


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "",
        "not base64 %%%",
        _encoded(5),
        _encoded(["SHA-256"]),
        _encoded({"algorithm": "SHA-256"}),
        _encoded(
            {"algorithm": "SHA-256", "challenge": "ab", "salt": 5, "signature": "c", "number": 1}
        ),
        "A" * 2004,
    ],
    ids=[
        "none",
        "empty",
        "not-base64",
        "number",
        "list",
        "fields-missing",
        "salt-not-text",
        "long",
    ],
)
def test_pow_junk_payload_is_refused(payload):
    assert pow.verify_solution(payload) is False


@pytest.mark.parametrize(
    ("field", "value"),
    [("number", "7"), ("number", True), ("number", 7.0), ("algorithm", "SHA-1")],
)
def test_pow_solution_with_a_field_of_the_wrong_kind_is_refused(field, value):
    challenge = pow.create_challenge(max_number=EASY)
    fields = {**challenge, "number": pow.solve(challenge), field: value}
    del fields["maxnumber"]

    assert pow.verify_solution(_encoded(fields)) is False


@pytest.mark.parametrize(
    ("used", "max_number"),
    [(0.0, 50_000), (0.5, 125_743), (0.9, 990_000), (1.0, 2_000_000), (1.5, 2_000_000)],
)
def test_pow_difficulty_rises_steeply_as_the_budget_drains(used, max_number):
    assert pow.max_number_for(used) == pytest.approx(max_number, rel=0.01)


def test_pow_challenge_difficulty_follows_the_sms_budget_spent(settings, memory_limits):
    settings.SMS_DAILY_BUDGET = 100  # 70 for new contacts
    fresh = pow.create_challenge()["maxnumber"]
    for _ in range(35):
        sms_budget.check_sms(country_code=33, verified=False)

    half_spent = pow.create_challenge()["maxnumber"]

    assert (fresh, half_spent) == (pow.EASIEST, pow.max_number_for(0.5))


def test_pow_challenge_is_hardest_when_the_budget_cannot_be_read(monkeypatch):
    dead = MovingWindowRateLimiter(ratelimit._storage(DEAD_REDIS))
    monkeypatch.setattr(ratelimit, "_limiter", dead)

    assert pow.create_challenge()["maxnumber"] == pow.HARDEST


def test_pow_verify_is_busy_when_the_cache_is_down(settings):
    _, solution = _solved()
    settings.CACHES = DEAD_CACHE

    with pytest.raises(Busy) as down:
        pow.verify_solution(solution)

    assert (down.value.code, down.value.http_status) == ("service_busy", 503)


def test_pow_wrong_solution_is_refused_without_the_cache(settings):
    challenge = pow.create_challenge(max_number=EASY)
    wrong = pow.encode_solution(challenge, (pow.solve(challenge) + 1) % (EASY + 1))
    settings.CACHES = DEAD_CACHE

    assert pow.verify_solution(wrong) is False


@pytest.mark.redis
def test_pow_solution_is_accepted_once_on_redis(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
    _, solution = _solved()

    outcomes = [pow.verify_solution(solution), pow.verify_solution(solution)]

    assert outcomes == [True, False]
