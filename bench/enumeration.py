"""No enumeration by timing: before the contact is verified, `start` must answer a known and an
unknown person (or contact) alike, "in about the same time" (issue #3). This measures it.

Against gunicorn (1 worker) + PostgreSQL + Redis on loopback, one client, requests one at a
time (so that queueing does not blur the service's own time), the four cases interleaved in a
random order, each from its own client address and with a fresh phone or e-mail where the case
says "new" (a contact that was just sent a code is refused by its cooldown, whoever it is):

- new person, new contact (the reference);
- registered person (an entry already exists for that identity and procedure), new contact;
- new person, known contact (the contact exists, it has registered someone before);
- registered person, known contact (the same identity again, through a known contact).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairslot_bench \
    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/enumeration.py --samples 150

Reported: status codes and response fields (they must be equal), median and p90 latency per
case and the ratio of each median to the reference. Same database rules as
bench/registration.py (its name must end in _bench; it is wiped).
"""

import argparse
import http.client
import json
import os
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.registration import (  # noqa: E402
    PORT,
    _code_for,
    _post,
    _prepare,
    _setup_django,
    start_server,
)

CASES = ["new person, new contact", "registered person, new contact",
         "new person, known contact", "registered person, known contact"]  # fmt: skip


def _body(window: str, n: int, phone: str) -> dict:
    return {
        "window": window,
        "procedure": "RENEWAL",
        "identity_kind": "agdref",
        "identifier": f"{6000000000 + n}",
        "family_name": f"Enum{n}",
        "given_names": "Test",
        "birth_date": "1990-01-01",
        "nationality": "AF",
        "contact_kind": "phone",
        "contact": phone,
    }


def _register(conn, window: str, n: int, phone: str, ip: str) -> None:
    status, payload, _t = _post(conn, "/api/v1/registrations/", _body(window, n, phone), ip)
    assert status == 202, (status, payload)
    token = json.loads(payload)["token"]
    status, payload, _t = _post(
        conn, "/api/v1/registrations/verify/", {"token": token, "code": _code_for(phone)}, ip
    )
    assert status == 200, (status, payload)
    status, payload, _t = _post(conn, "/api/v1/registrations/submit/", {"token": token}, ip)
    assert status == 201, (status, payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=150, help="requests per case")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").rstrip("/").endswith("_bench"):
        sys.exit("bench/enumeration.py wipes its database: DATABASE_URL must end in _bench.")
    if not os.environ.get("REDIS_URL"):
        sys.exit("bench/enumeration.py needs REDIS_URL=redis://...")
    _setup_django()
    window = _prepare()
    from accounts import otp

    # Known contacts that were never sent a code (so no cooldown applies to them).
    spare = [f"+3362{n:07d}" for n in range(2 * args.samples)]  # one per request of 2 cases
    for phone in spare:
        otp.get_or_create_contact(kind="phone", value=phone)
    from django.db import connection

    connection.close()
    server = start_server(1)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        # Registered people: one entry each, through their own contact (which then cools down).
        registered = list(range(args.samples))
        for n in registered:
            _register(conn, window, n, f"+3363{n:07d}", f"10.1.{n // 250}.{n % 250}")
        plan = [(case, i) for case in range(4) for i in range(args.samples)]
        random.Random(7).shuffle(plan)
        timings = {case: [] for case in range(4)}
        answers = {case: set() for case in range(4)}
        for k, (case, i) in enumerate(plan):
            fresh = 100_000 + k
            person = registered[i] if case in (1, 3) else fresh
            phone = spare[i + (case == 3) * args.samples] if case >= 2 else f"+3364{fresh:07d}"
            ip = f"10.2.{k // 250 % 250}.{k % 250}"
            status, payload, elapsed = _post(
                conn, "/api/v1/registrations/", _body(window, person, phone), ip
            )
            data = json.loads(payload)
            answers[case].add((status, tuple(sorted(data)), data.get("status")))
            timings[case].append(elapsed)
    finally:
        server.terminate()
        server.wait(10)
    reference = statistics.median(timings[0])
    print(f"samples per case: {args.samples}, one client, gunicorn 1 worker")
    for case in range(4):
        values = timings[case]
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(
            f"{CASES[case]:34s} answers {sorted(answers[case])}  median {median * 1000:6.1f} ms"
            f"  p90 {p90 * 1000:6.1f} ms  median/reference {median / reference:.2f}"
        )
    same = len({frozenset(a) for a in answers.values()}) == 1
    print(f"identical answers across the four cases: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
