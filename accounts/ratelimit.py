"""Rate limits on a shared store (Redis in production, process memory on the embedded default).

Built on the `limits` package's moving window: a rule allows at most `limit` events in *any*
span of `period` seconds, so there is no double allowance at a window boundary (a fixed window
lets twice the limit through around its edge). A Cooldown is the same rule with a limit of one.

`check(*rules)` first reads every rule and counts the event under all of them only when all
allow it: a refused request consumes nothing (a request refused by a cooldown does not use up
the address's hourly allowance). Two concurrent requests may both pass the reading; the count
itself is atomic and capped in the store, so the loser of that race is refused then, and the
rules it had already counted stay counted. No rule ever lets more than its limit through; a
race can only over-count.

Any store error refuses with Busy (fail closed): a Redis outage must never mean unlimited SMS.
DRF throttles are not used as a security control. A rule's count lives under a key made of its
`key`, limit and period: changing a limit starts it afresh.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from limits import RateLimitItem, RateLimitItemPerSecond, WindowStats
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from config.errors import Busy, Throttled

logger = logging.getLogger(__name__)

NAMESPACE = "fairslot"
# An outage must become a quick 503, not a worker waiting on a dead socket.
REDIS_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Hit:
    """At most `limit` events for `key` in any `period` seconds; one check counts `cost` events
    (an SMS of three parts counts three against the SMS budget)."""

    key: str
    limit: int
    period: int
    cost: int = 1

    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.limit, self.period, namespace=NAMESPACE)

    def refusal(self, retry_after: int) -> Throttled:
        """The error a request refused by this rule gets."""
        return Throttled(
            "too_many_requests",
            _("Too many attempts. Please wait before trying again."),
            retry_after=retry_after,
        )


@dataclass(frozen=True)
class Cooldown:
    """At most one event for `key` in any `seconds`."""

    key: str
    seconds: int
    cost = 1

    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(1, self.seconds, namespace=NAMESPACE)

    def refusal(self, retry_after: int) -> Throttled:
        """The error a request refused by this rule gets."""
        return Throttled(
            "code_cooldown",
            _("A code was sent less than a minute ago. Please wait before asking for a new one."),
            retry_after=retry_after,
        )


Rule = Hit | Cooldown

_limiter: MovingWindowRateLimiter | None = None


def limiter() -> MovingWindowRateLimiter:
    """The process's limiter, on settings.REDIS_URL when set, else on process memory (which
    suits the embedded one-process default only). Built on first use, then kept."""
    global _limiter
    if _limiter is None:
        # Two threads may both build one on first use: either works, the other is dropped.
        _limiter = MovingWindowRateLimiter(_storage(getattr(settings, "REDIS_URL", None)))
    return _limiter


def _storage(url: str | None) -> Storage:
    # wrap_exceptions: every store failure arrives as limits' StorageError, whatever the client.
    if not url:
        return storage_from_string("memory://", wrap_exceptions=True)
    if url.startswith("unix://"):  # the project's spelling; limits says redis+unix://
        url = f"redis+{url}"
    return storage_from_string(
        url,
        wrap_exceptions=True,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )


def _store_down() -> Busy:
    logger.exception("rate-limit store unavailable; refusing (fail closed)")
    return Busy(
        "service_busy",
        _("The service is busy. Please try again in a few minutes."),
        retry_after=60,
    )


def _stats(rule: Rule) -> WindowStats:
    return limiter().get_window_stats(rule.item(), rule.key)


def _retry_after(stats: WindowStats) -> int:
    # The oldest counted event still counts at exactly `reset_time`: one second more.
    return max(1, int(stats.reset_time - time.time()) + 1)


def _count(rules: tuple[Rule, ...]) -> None:
    for rule in rules:
        stats = _stats(rule)
        if stats.remaining < rule.cost:
            raise rule.refusal(_retry_after(stats))
    for rule in rules:
        if not limiter().hit(rule.item(), rule.key, cost=rule.cost):  # filled since we read it
            raise rule.refusal(_retry_after(_stats(rule)))


def check(*rules: Rule) -> None:
    """Count one event under every rule, or under none (save the race in the module's
    docstring): raise Throttled (with retry_after) for the first rule, in order, that refuses;
    Busy when the store cannot answer."""
    try:
        _count(rules)
    except StorageError:
        raise _store_down() from None


def remaining(rule: Rule) -> int:
    """How many events `rule` still allows now; counts nothing. Busy if the store is down."""
    try:
        return _stats(rule).remaining
    except StorageError:
        raise _store_down() from None


def hit(key: str, *, limit: int, period: int) -> None:
    """Count one event for `key`; raise Throttled when `limit` were counted in the last
    `period` seconds."""
    check(Hit(key, limit, period))


def cooldown(key: str, *, seconds: int) -> None:
    """At most one event per `seconds` for `key` (see Cooldown)."""
    check(Cooldown(key, seconds))


def reset() -> None:
    """Forget every count (tests; operators after an incident). On Redis it lists the store's
    keys with KEYS, which blocks a large database for a moment."""
    try:
        limiter().storage.reset()
    except StorageError:
        raise _store_down() from None
