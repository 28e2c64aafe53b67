"""Rate limits: moving windows at their edges, with a frozen clock, in memory and on Redis."""

from datetime import datetime, timedelta

import pytest
import time_machine
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

from accounts import ratelimit
from config.errors import Busy, Throttled
from tests.conftest import run_concurrently

# Just before a quarter-hour boundary, where a fixed window would start counting afresh.
EDGE = datetime(2030, 3, 4, 14, 59, 59).astimezone()
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: every call is refused


@pytest.fixture
def dead_store(monkeypatch):
    monkeypatch.setattr(
        ratelimit, "_limiter", MovingWindowRateLimiter(ratelimit._storage(DEAD_REDIS))
    )


def _refusal(*rules) -> str | None:
    try:
        ratelimit.check(*rules)
    except Throttled as exc:
        return exc.code
    return None


def test_rate_limit_refuses_beyond_the_limit(limiter):
    outcomes = [_refusal(ratelimit.Hit("k", 3, 900)) for _ in range(4)]

    assert outcomes == [None, None, None, "too_many_requests"]


def test_rate_limit_allows_no_double_burst_across_a_window_boundary(limiter):
    with time_machine.travel(EDGE, tick=False) as clock:
        before_edge = [_refusal(ratelimit.Hit("k", 3, 900)) for _ in range(3)]
        clock.shift(timedelta(seconds=2))  # 15:00:01, a fresh fixed window
        after_edge = _refusal(ratelimit.Hit("k", 3, 900))
        clock.shift(timedelta(seconds=900))  # the three events are 901 s old
        a_period_later = _refusal(ratelimit.Hit("k", 3, 900))

    assert before_edge == [None, None, None]
    assert after_edge == "too_many_requests"
    assert a_period_later is None


def test_rate_limit_refusal_counts_under_no_rule(limiter):
    rules = (ratelimit.Hit("ip:x", 2, 3600), ratelimit.Cooldown("send:1", 60))
    with time_machine.travel(EDGE, tick=False) as clock:
        outcomes = [_refusal(*rules) for _ in range(3)]
        left_after_refusals = ratelimit.remaining(rules[0])
        clock.shift(timedelta(seconds=61))
        after_cooldown = [_refusal(*rules), _refusal(ratelimit.Cooldown("send:2", 60), rules[0])]

    assert outcomes == [None, "code_cooldown", "code_cooldown"]
    assert left_after_refusals == 1
    assert after_cooldown == [None, "too_many_requests"]


def test_rate_limit_cooldown_reports_when_it_ends(limiter):
    with time_machine.travel(EDGE, tick=False) as clock:
        ratelimit.cooldown("send:2", seconds=60)
        clock.shift(timedelta(seconds=20))
        with pytest.raises(Throttled) as early:
            ratelimit.cooldown("send:2", seconds=60)

    assert (early.value.code, early.value.retry_after) == ("code_cooldown", 41)


def test_rate_limit_hit_reports_when_its_oldest_event_leaves_the_window(limiter):
    with time_machine.travel(EDGE, tick=False) as clock:
        ratelimit.hit("k", limit=2, period=3600)
        clock.shift(timedelta(seconds=100))
        ratelimit.hit("k", limit=2, period=3600)
        clock.shift(timedelta(seconds=100))
        with pytest.raises(Throttled) as refused:
            ratelimit.hit("k", limit=2, period=3600)

    assert refused.value.retry_after == 3600 - 200 + 1


def test_rate_limit_racer_filling_a_rule_meanwhile_is_refused_and_bounded(limiter, monkeypatch):
    first, second = ratelimit.Hit("a", 5, 60), ratelimit.Hit("b", 1, 60)
    count = limiter.hit

    def counted_after_a_racer(item, key, cost=1):
        if key == "a":  # a concurrent request takes b's one slot after our reading
            count(second.item(), "b")
        return count(item, key, cost=cost)

    monkeypatch.setattr(limiter, "hit", counted_after_a_racer)

    refusal = _refusal(first, second)

    assert refusal == "too_many_requests"
    assert (ratelimit.remaining(first), ratelimit.remaining(second)) == (4, 0)


def test_rate_limit_concurrent_requests_never_pass_beyond_the_limit(limiter):
    outcomes = run_concurrently(*[lambda: _refusal(ratelimit.Hit("k", 3, 60))] * 12)

    refusals = [refusal for refusal, error in outcomes if error is None]
    assert (refusals.count(None), refusals.count("too_many_requests")) == (3, 9)


def test_rate_limit_remaining_counts_nothing(limiter):
    rule = ratelimit.Hit("k", 3, 60)
    ratelimit.check(rule)

    readings = [ratelimit.remaining(rule) for _ in range(3)]

    assert readings == [2, 2, 2]


def test_rate_limit_fails_closed_when_the_store_is_down(dead_store):
    with pytest.raises(Busy) as checking:
        ratelimit.check(ratelimit.Hit("k", 3, 60))
    with pytest.raises(Busy) as reading:
        ratelimit.remaining(ratelimit.Cooldown("k", 60))

    assert (checking.value.code, checking.value.http_status) == ("service_busy", 503)
    assert reading.value.code == "service_busy"


def test_rate_limit_store_is_redis_for_a_redis_or_unix_socket_url():
    stores = [ratelimit._storage(url) for url in ("redis://10.0.0.9:6379/2", "unix:///run/r.sock")]

    assert [type(store) for store in stores] == [RedisStorage, RedisStorage]


def test_rate_limit_store_is_process_memory_without_redis_url():
    assert type(ratelimit._storage(None)) is MemoryStorage


def test_rate_limit_limiter_is_built_once_per_process(monkeypatch):
    monkeypatch.setattr(ratelimit, "_limiter", None)

    assert ratelimit.limiter() is ratelimit.limiter()
