"""The SMS budget: a flood of new contacts spends only their share; foreign codes have caps."""

import random
from datetime import datetime, timedelta

import pytest
import time_machine
from limits.strategies import MovingWindowRateLimiter
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from accounts import ratelimit, sms_budget
from config.errors import Busy, Throttled

FRANCE, ALGERIA, SATELLITE = 33, 213, 881
NOON = datetime(2030, 3, 4, 12, 0, 0).astimezone()


@pytest.fixture
def budget(settings, limiter):
    """A day's budget of `daily` SMS, 30 % kept for verified contacts, 2 % per foreign code."""

    def set_budget(daily: int) -> None:
        settings.SMS_DAILY_BUDGET = daily
        settings.SMS_VERIFIED_SHARE = 0.3
        settings.SMS_FOREIGN_COUNTRY_SHARE = 0.02

    return set_budget


def _refusal(*, country_code: int, verified: bool) -> str | None:
    try:
        sms_budget.check_sms(country_code=country_code, verified=verified)
    except Throttled as exc:
        return exc.code
    return None


def _flood_codes(count: int) -> list[int]:
    """Country codes of a flood: mostly French numbers, the rest spread over 40 foreign codes,
    ten numbers each (under their caps), shuffled."""
    domestic = sms_budget.DOMESTIC_COUNTRY_CODES
    foreign = [code for code in sorted(COUNTRY_CODE_TO_REGION_CODE) if code not in domestic]
    codes = [FRANCE] * (count - 400) + [code for code in foreign[:40] for _ in range(10)]
    random.Random(7).shuffle(codes)
    return codes


def test_sms_budget_flood_of_new_contacts_leaves_the_verified_share(budget):
    budget(1000)  # new contacts may use 700

    flood = [_refusal(country_code=code, verified=False) for code in _flood_codes(1000)]
    spent = sms_budget.used_fraction()
    verified = [_refusal(country_code=code, verified=True) for code in (FRANCE, 262, ALGERIA)]
    new_again = _refusal(country_code=FRANCE, verified=False)

    assert (flood.count(None), flood.count("sms_budget")) == (700, 300)
    assert spent == 1.0
    assert verified == [None, None, None]
    assert new_again == "sms_budget"


def test_sms_budget_verified_contacts_may_use_the_whole_budget(budget):
    budget(10)

    sent = [_refusal(country_code=FRANCE, verified=True) for _ in range(11)]

    assert sent == [None] * 10 + ["sms_budget"]


def test_sms_budget_new_and_verified_contacts_share_the_whole(budget):
    budget(10)

    new = [_refusal(country_code=FRANCE, verified=False) for _ in range(8)]
    verified = [_refusal(country_code=FRANCE, verified=True) for _ in range(4)]

    assert new == [None] * 7 + ["sms_budget"]
    assert verified == [None] * 3 + ["sms_budget"]


def test_sms_budget_caps_a_foreign_country_code_while_france_still_passes(budget):
    budget(5000)  # 100 a day per foreign code, 70 of them for new contacts

    pumped = [_refusal(country_code=SATELLITE, verified=False) for _ in range(71)]
    france = _refusal(country_code=FRANCE, verified=False)
    other_country = _refusal(country_code=ALGERIA, verified=False)

    assert pumped == [None] * 70 + ["sms_budget"]
    assert (france, other_country) == (None, None)


def test_sms_budget_foreign_code_keeps_a_share_for_its_verified_contacts(budget):
    budget(5000)
    for _ in range(70):
        sms_budget.check_sms(country_code=ALGERIA, verified=False)

    verified = [_refusal(country_code=ALGERIA, verified=True) for _ in range(31)]

    assert verified == [None] * 30 + ["sms_budget"]


def test_sms_budget_overseas_codes_have_no_cap_of_their_own(budget):
    budget(100)  # a foreign code would get 2, 1 of them for new contacts

    overseas = [_refusal(country_code=code, verified=False) for code in (262, 590, 687, 689) * 5]

    assert overseas == [None] * 20


def test_sms_budget_refusal_by_a_country_cap_spends_nothing_else(budget):
    budget(100)
    sms_budget.check_sms(country_code=SATELLITE, verified=False)
    before = sms_budget.used_fraction()

    refused = [_refusal(country_code=SATELLITE, verified=False) for _ in range(5)]

    assert refused == ["sms_budget"] * 5
    assert sms_budget.used_fraction() == before == 1 / 70


def test_sms_budget_used_fraction_counts_new_contacts_only_and_reads_nothing_away(budget):
    budget(100)  # 70 for new contacts
    for _ in range(35):
        sms_budget.check_sms(country_code=FRANCE, verified=False)
    sms_budget.check_sms(country_code=FRANCE, verified=True)

    readings = [sms_budget.used_fraction() for _ in range(3)]

    assert readings == [0.5, 0.5, 0.5]


def test_sms_budget_spent_share_comes_back_over_24_hours(budget):
    budget(10)
    with time_machine.travel(NOON, tick=False) as clock:
        for _ in range(7):
            sms_budget.check_sms(country_code=FRANCE, verified=False)
        clock.shift(timedelta(hours=6))
        with pytest.raises(Throttled) as refused:
            sms_budget.check_sms(country_code=FRANCE, verified=False)
        clock.shift(timedelta(hours=18, seconds=1))
        next_day = _refusal(country_code=FRANCE, verified=False)

    assert refused.value.retry_after == 18 * 3600 + 1
    assert next_day is None


def test_sms_budget_defaults_apply_before_settings_name_them(settings, limiter):
    for name in ("SMS_VERIFIED_SHARE", "SMS_FOREIGN_COUNTRY_SHARE"):
        if hasattr(settings, name):
            delattr(settings, name)
    settings.SMS_DAILY_BUDGET = 5000

    rules = sms_budget.rules(country_code=SATELLITE, verified=False)

    assert [(rule.key, rule.limit) for rule in rules] == [
        ("sms:new", 3500),
        ("sms:all", 5000),
        ("sms:+881:new", 70),
        ("sms:+881:all", 100),
    ]


def test_sms_budget_fails_closed_when_the_store_is_down(settings, monkeypatch):
    dead = MovingWindowRateLimiter(ratelimit._storage("redis://127.0.0.1:1/0"))
    monkeypatch.setattr(ratelimit, "_limiter", dead)

    with pytest.raises(Busy) as sending:
        sms_budget.check_sms(country_code=FRANCE, verified=True)
    with pytest.raises(Busy) as reading:
        sms_budget.used_fraction()

    assert (sending.value.code, reading.value.code) == ("service_busy", "service_busy")
