"""drand quicknet for FAIRDRAW-1 section 5: the round R, fetching, and BLS verification.

Thin adapter: the engine package may grow its own beacon module; until then this one holds the
pinned constants and calls `drand_verify` (Rust core). An unverified value is never returned.
"""

import json
import logging
import urllib.request
from datetime import UTC, datetime, timedelta

import drand_verify
from django.conf import settings

logger = logging.getLogger(__name__)

CHAIN_HASH = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
PUBLIC_KEY = (
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064"
    "510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ec"
    "e45a"
)
SCHEME = "bls-unchained-g1-rfc9380"
GENESIS = 1692803367
PERIOD = 3
FALLBACK_AFTER = timedelta(days=7)
DEFAULT_RELAYS = ("https://api.drand.sh", "https://drand.cloudflare.com")


class BeaconError(ValueError):
    """The beacon value is missing, malformed or does not verify."""


def round_for(reveal_deadline: datetime) -> int:
    """R: the first round emitted at least one hour after the reveal deadline."""
    t = reveal_deadline.timestamp() + 3600
    seconds = int(t) + (1 if t > int(t) else 0)  # ceil, to the whole second
    return -(-(seconds - GENESIS) // PERIOD) + 1


def round_time(round_number: int) -> datetime:
    return datetime.fromtimestamp(GENESIS + PERIOD * (round_number - 1), tz=UTC)


def verify(round_number: int, signature_hex: str, randomness_hex: str | None = None) -> str:
    """Verify a quicknet round; return its randomness H(signature) as hex, or raise BeaconError.

    When the relay's `randomness` is given it must equal H(signature).
    """
    try:
        signature = bytes.fromhex(signature_hex)
        if len(signature) != 48:
            raise BeaconError("the signature must be 48 bytes")
        verified = drand_verify.verify_quicknet(round_number, signature.hex())
        randomness = verified.lower() if isinstance(verified, str) else bytes(verified).hex()
    except (ValueError, TypeError) as error:
        raise BeaconError(f"round {round_number} does not verify: {error}") from None
    if randomness_hex is not None and randomness_hex.lower() != randomness:
        raise BeaconError("the randomness is not H(signature)")
    return randomness


def fetch(round_number: int, *, timeout: float = 5.0) -> dict:
    """Fetch round R from the configured relays, first verified answer wins.

    Returns {"round", "signature", "randomness"} (verified); raises BeaconError if no relay gives
    a verifiable value (the caller retries on its next tick).
    """
    relays = getattr(settings, "DRAND_RELAYS", DEFAULT_RELAYS)
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
