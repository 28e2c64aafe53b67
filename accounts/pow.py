"""Proof of work before an SMS is sent: the ALTCHA scheme (v1 format) with the `altcha` package.

The server issues `challenge = SHA-256(salt + number)` for a secret random number up to
`maxnumber`, signed with an HMAC; the browser finds the number by brute force and sends it back.
Bots pay in CPU for every SMS they make us send, and pay more as the day's SMS budget drains:
the difficulty follows `sms_budget.used_fraction()`. Without JavaScript the code can still be
requested, under stricter per-address limits.

The challenge's JSON keeps the names booking/static/booking/altcha.js reads (`maxnumber`).
"""

import base64
import binascii
import hashlib
import json
import logging
from datetime import timedelta

import redis
from altcha import v1 as altcha
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import sms_budget
from config.errors import Busy

logger = logging.getLogger(__name__)

EASIEST = 50_000  # about a second on a cheap phone
HARDEST = 2_000_000
TTL_SECONDS = 600
ALGORITHM = "SHA-256"
MAX_PAYLOAD_LENGTH = 2000


def max_number_for(used: float) -> int:
    """The difficulty when a fraction `used` (0.0 to 1.0) of the new contacts' SMS share is
    spent: EASIEST × (HARDEST / EASIEST) ** used², that is 50,000 at 0 %, 126,000 at 50 %,
    990,000 at 90 %, 2,000,000 at 100 %."""
    used = min(1.0, max(0.0, used))
    return round(EASIEST * (HARDEST / EASIEST) ** (used**2))


def _current_max_number() -> int:
    try:
        return max_number_for(sms_budget.used_fraction())
    except Busy:
        # No SMS goes out while the store is down (its limits fail closed): the hardest puzzle
        # costs honest people nothing more, and the page still loads.
        return HARDEST


def _hmac_key() -> bytes:
    return hashlib.sha256(f"fairslot/altcha/{settings.SECRET_KEY}".encode()).digest()


def create_challenge(max_number: int | None = None) -> dict:
    """A signed challenge expiring in 10 minutes, as JSON for the widget. `max_number` (at
    least 1) defaults to the difficulty for the SMS budget spent so far (`max_number_for`)."""
    challenge = altcha.create_challenge(
        altcha.ChallengeOptions(
            algorithm=ALGORITHM,
            max_number=max_number if max_number is not None else _current_max_number(),
            hmac_key=_hmac_key(),
            expires=timezone.now() + timedelta(seconds=TTL_SECONDS),
        )
    )
    return {
        "algorithm": challenge.algorithm,
        "challenge": challenge.challenge,
        "maxnumber": challenge.max_number,
        "salt": challenge.salt,
        "signature": challenge.signature,
    }


def solve(challenge: dict) -> int:
    """Brute-force a challenge as the browser does (tests and the benchmark's clients)."""
    solution = altcha.solve_challenge(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxnumber"]
    )
    if solution is None:
        raise ValueError("unsolvable challenge")
    return solution.number


def encode_solution(challenge: dict, number: int) -> str:
    """The form field's value (base64 JSON) for `number` solving `challenge`."""
    fields = (challenge[name] for name in ("algorithm", "challenge", "salt", "signature"))
    algorithm, digest, salt, signature = fields
    return altcha.Payload(algorithm, digest, number, salt, signature).to_base64()


def verify_solution(payload: str | None) -> bool:
    """True for a correct, unexpired, never-used solution to a challenge we signed, whatever
    difficulty it was issued with; False for anything else. Raises Busy when the cache that
    remembers used solutions cannot answer (the caller answers 503, never a free pass)."""
    fields = _fields(payload)
    if fields is None:
        return False
    verified, _reason = altcha.verify_solution(fields, _hmac_key(), check_expires=True)
    return verified and _first_use(fields["challenge"])


def _fields(payload: str | None) -> dict | None:
    """The payload's fields if they have the right types, else None: the package trusts them
    (a JSON number where the salt should be would make it raise)."""
    if not payload or len(payload) > MAX_PAYLOAD_LENGTH:
        return None
    try:
        fields = json.loads(base64.b64decode(payload, validate=True))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(fields, dict) or fields.get("algorithm") != ALGORITHM:
        return None
    texts = all(isinstance(fields.get(name), str) for name in ("challenge", "salt", "signature"))
    number = fields.get("number")
    return fields if texts and isinstance(number, int) and not isinstance(number, bool) else None


def _first_use(challenge: str) -> bool:
    # Single use: a solved challenge buys one code request. The entry outlives the challenge.
    try:
        return cache.add(f"pow:{challenge}", 1, timeout=TTL_SECONDS + 60)
    except redis.RedisError:
        logger.exception("cache unavailable; refusing proof of work (fail closed)")
        raise Busy(
            "service_busy",
            _("The service is busy. Please try again in a few minutes."),
            retry_after=60,
        ) from None
