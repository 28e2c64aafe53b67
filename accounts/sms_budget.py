"""The day's SMS budget, split so that a flood of new contacts cannot starve everyone.

Text messages cost money and are the prize of SMS pumping (a fraudster makes us text numbers in
premium ranges abroad and shares the operator's fee). Over any 24 hours (moving windows, see
`accounts.ratelimit`):
- all SMS together stay within settings.SMS_DAILY_BUDGET;
- a share of it (SMS_VERIFIED_SHARE) is kept for contacts already verified (log-ins, offers):
  new contacts may only use the rest, so a thousand made-up numbers in a minute still leave the
  people already registered able to get their codes;
- each foreign country code gets at most SMS_FOREIGN_COUNTRY_SHARE of the budget, split the
  same way; France and its overseas departments and territories have no cap of their own.
E-mail never goes through this module. Budgets count SMS parts (accounts.sms_text.segments), not
messages: a code in Arabic (UCS-2, 70 characters a part) may cost more than one in French.
"""

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts import ratelimit
from config.errors import Throttled

DAY = 24 * 3600
DEFAULT_DAILY_BUDGET = 5000
DEFAULT_VERIFIED_SHARE = 0.3
DEFAULT_FOREIGN_COUNTRY_SHARE = 0.02
# France, Réunion and Mayotte, Saint-Pierre-et-Miquelon, Guadeloupe (with Saint-Barthélemy and
# Saint-Martin), Guyane, Martinique, Wallis-et-Futuna, New Caledonia, French Polynesia. Not +269:
# that is the Comoros since Mayotte moved to +262 in 2007.
DOMESTIC_COUNTRY_CODES = frozenset({33, 262, 508, 590, 594, 596, 681, 687, 689})


class Budget(ratelimit.Hit):
    """A Hit on an SMS budget, refused with a message that offers e-mail instead."""

    def refusal(self, retry_after: int) -> Throttled:
        return Throttled(
            "sms_budget",
            _(
                "We cannot send more text messages right now. Try again later, "
                "or use an e-mail address."
            ),
            retry_after=retry_after,
        )


def check_sms(*, country_code: int, verified: bool, segments: int = 1) -> None:
    """Count one SMS of `segments` parts to a number with `country_code`, for a contact
    `verified` or not; raise Throttled ("sms_budget") when a budget it falls under is spent,
    Busy if the store is down. A refused SMS counts against nothing."""
    ratelimit.check(*rules(country_code=country_code, verified=verified, segments=segments))


def rules(*, country_code: int, verified: bool, segments: int = 1) -> tuple[Budget, ...]:
    """The budget rules one SMS of `segments` parts counts against, for a caller that checks
    them in the same `ratelimit.check` as its own rules, so that a refusal by any of them
    counts nothing."""
    daily = _setting("SMS_DAILY_BUDGET", DEFAULT_DAILY_BUDGET)
    found = _split("sms", daily, verified, segments)
    if country_code not in DOMESTIC_COUNTRY_CODES:
        share = _setting("SMS_FOREIGN_COUNTRY_SHARE", DEFAULT_FOREIGN_COUNTRY_SHARE)
        found += _split(f"sms:+{country_code}", round(daily * share), verified, segments)
    return found


def used_fraction() -> float:
    """The part of the new contacts' share spent over the last 24 hours, from 0.0 to 1.0.
    Counts nothing; Busy if the store is down."""
    new = _split("sms", _setting("SMS_DAILY_BUDGET", DEFAULT_DAILY_BUDGET), verified=False)[0]
    if new.limit <= 0:
        return 1.0
    spent = new.limit - ratelimit.remaining(new)
    return min(1.0, max(0.0, spent / new.limit))


def _split(key: str, limit: int, verified: bool, segments: int = 1) -> tuple[Budget, ...]:
    """The rules of a budget of `limit` SMS parts a day with a share kept for verified
    contacts: every SMS counts against the whole, a new contact's also against the part open
    to them."""
    whole = Budget(f"{key}:all", limit, DAY, cost=segments)
    if verified:
        return (whole,)
    return (Budget(f"{key}:new", _unverified_part(limit), DAY, cost=segments), whole)


def _unverified_part(limit: int) -> int:
    # round(), not int(): 100 * 0.3 is 30.000000000000004 in floating point.
    return limit - round(limit * _setting("SMS_VERIFIED_SHARE", DEFAULT_VERIFIED_SHARE))


def _setting(name: str, default):
    # Read at each call, with the default until config/settings.py defines the name.
    return getattr(settings, name, default)
