"""Proof of work before an SMS is sent (the ALTCHA scheme, no third party).

The server issues `challenge = SHA-256(salt + number)` for a secret random number below
`maxnumber`, with an HMAC signature; the browser finds the number by brute force (a second or so
on a cheap phone) and sends it back. Bots pay in CPU for every SMS they make us send. Without
JavaScript the code can still be requested, under stricter per-address limits.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time

from django.conf import settings
from django.core.cache import cache

MAX_NUMBER = 100_000
TTL_SECONDS = 600


def _sign(challenge: str) -> str:
    key = hashlib.sha256(f"fairslot/altcha/{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, challenge.encode(), hashlib.sha256).hexdigest()


def create_challenge(max_number: int = MAX_NUMBER) -> dict:
    expires = int(time.time()) + TTL_SECONDS
    salt = f"{secrets.token_hex(12)}?expires={expires}"
    number = secrets.randbelow(max_number)
    challenge = hashlib.sha256(f"{salt}{number}".encode()).hexdigest()
    return {
        "algorithm": "SHA-256",
        "challenge": challenge,
        "maxnumber": max_number,
        "salt": salt,
        "signature": _sign(challenge),
    }


def solve(challenge: dict) -> int:
    """Brute-force a challenge (used by tests and the benchmark's clients)."""
    for number in range(challenge["maxnumber"] + 1):
        digest = hashlib.sha256(f"{challenge['salt']}{number}".encode()).hexdigest()
        if digest == challenge["challenge"]:
            return number
    raise ValueError("unsolvable challenge")


def encode_solution(challenge: dict, number: int) -> str:
    payload = {
        **{k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")},
        "number": number,
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


def verify_solution(payload: str | None) -> bool:
    """True for a correct, unexpired, never-used solution."""
    if not payload or len(payload) > 2000:
        return False
    try:
        data = json.loads(base64.b64decode(payload, validate=True))
        salt, number = str(data["salt"]), int(data["number"])
        challenge, signature = str(data["challenge"]), str(data["signature"])
        expires = int(salt.rsplit("expires=", 1)[1])
    except (ValueError, KeyError, TypeError, IndexError):
        return False
    if expires < time.time() or not hmac.compare_digest(signature, _sign(challenge)):
        return False
    if hashlib.sha256(f"{salt}{number}".encode()).hexdigest() != challenge:
        return False
    # Single use: a solved challenge buys one code request.
    return cache.add(f"pow:{challenge}", 1, timeout=TTL_SECONDS + 60)
