"""drand quicknet for FAIRDRAW-1 section 5: the round R, fetching, and BLS verification.

Thin adapter over the engine's beacon module (constants, round R, BLS verification through
drand-verify), plus fetching from relays. An unverified value is never returned.
"""

import json
import logging
import urllib.request
from datetime import UTC, datetime, timedelta

from django.conf import settings

from lottery.fairdraw import beacon as fairdraw_beacon
from lottery.fairdraw.errors import FairdrawError

logger = logging.getLogger(__name__)

# The pinned quicknet constants and the verification live in the engine (lottery/fairdraw,
# the code auditors run); this module only adds what the service needs around them.
CHAIN_HASH = fairdraw_beacon.QUICKNET_CHAIN_HASH.hex()
PUBLIC_KEY = fairdraw_beacon.QUICKNET_PUBLIC_KEY.hex()
SCHEME = fairdraw_beacon.QUICKNET_SCHEME
FALLBACK_AFTER = timedelta(days=7)


class BeaconError(ValueError):
    """The beacon value is missing, malformed or does not verify."""


def round_for(reveal_deadline: datetime) -> int:
    """R: the first round emitted at least one hour after the reveal deadline."""
    t = reveal_deadline.timestamp()
    return fairdraw_beacon.beacon_round_for_deadline(int(t) + (1 if t > int(t) else 0))


def round_time(round_number: int) -> datetime:
    return datetime.fromtimestamp(fairdraw_beacon.round_time(round_number), tz=UTC)


def verify(round_number: int, signature_hex: str, randomness_hex: str | None = None) -> str:
    """Verify a quicknet round; return its randomness H(signature) as hex, or raise BeaconError.

    When the relay's `randomness` is given it must equal H(signature).
    """
    try:
        if randomness_hex is None:
            randomness = fairdraw_beacon.verify_quicknet(round_number, signature_hex)
        else:
            randomness = fairdraw_beacon.verify_beacon(
                round_number, signature_hex, randomness_hex.lower()
            )
    except FairdrawError as error:
        raise BeaconError(str(error)) from None
    return randomness.hex()


def fetch(round_number: int, *, timeout: float = 5.0) -> dict:
    """Fetch round R from the configured relays, first verified answer wins.

    Returns {"round", "signature", "randomness"} (verified); raises BeaconError if no relay gives
    a verifiable value (the caller retries on its next tick).
    """
    relays = settings.DRAND_RELAYS
    errors = []
    for relay in relays:
        url = f"{relay.rstrip('/')}/{CHAIN_HASH}/public/{round_number}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (https)
                payload = json.loads(response.read(65536))
            if int(payload["round"]) != round_number:
                raise BeaconError(f"relay answered round {payload['round']}")
            randomness = verify(round_number, payload["signature"], payload.get("randomness"))
            return {
                "round": round_number,
                "signature": payload["signature"],
                "randomness": randomness,
            }
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("drand relay %s failed for round %s: %s", relay, round_number, error)
            errors.append(f"{relay}: {error}")
    raise BeaconError("; ".join(errors) or "no relay configured")
