"""No enumeration by timing: before a contact is verified, the answer must not tell whether the
person or the phone is already known, neither by its content nor by its time (issue #3).

Two measures, each with the cases interleaved in a random order, every request from a client
address of its own and with a phone that was not sent a code before (a contact that was just
sent a code is refused by its cooldown, whoever it is):

1. The API's `start`, against gunicorn (1 worker) + PostgreSQL + Redis on loopback, one client,
   one request at a time (so that queueing does not blur the service's own time), with the
   partner key:
   - new person, new contact (the reference);
   - registered person (an entry already exists for that identity and procedure), new contact;
   - new person, known contact (verified, as after a registration);
   - registered person, known contact.
2. The log-in send (`accounts.otp.start_login`, the service behind "my registrations"), called
   in this process: a new contact against a known, verified one.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairslot_bench \
    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/enumeration.py --samples 150

Reported: the answers (they must be equal), median and p90 per case and each median's ratio to
the reference. The database is wiped first (its name must end in _bench).
"""

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

START_CASES = ["new person, new contact", "registered person, new contact",
               "new person, known contact", "registered person, known contact"]  # fmt: skip
LOGIN_CASES = ["log-in, new contact", "log-in, known contact"]


def _known_contacts(prefix: str, count: int) -> list[str]:
    """`count` verified contacts that were never sent a code (no cooldown applies to them)."""
    from django.utils import timezone

    from accounts import contacts
    from accounts.models import Contact

    phones = [f"{prefix}{n:07d}" for n in range(count)]
    for phone in phones:
        contact = contacts.get_or_create_contact(kind="phone", value=phone)
        Contact.objects.filter(pk=contact.pk).update(verified_at=timezone.now())
    return phones


def _print(cases: list[str], timings: dict, answers: dict) -> None:
    reference = statistics.median(timings[0])
    for case, name in enumerate(cases):
        median = statistics.median(timings[case])
        p90 = statistics.quantiles(timings[case], n=10)[-1]
        print(
            f"{name:34s} answers {sorted(answers[case])}  median {median * 1000:6.1f} ms"
            f"  p90 {p90 * 1000:6.1f} ms  median/reference {median / reference:.2f}"
        )
    same = len({frozenset(a) for a in answers.values()}) == 1
    print(f"identical answers across the cases: {'yes' if same else 'NO'}")


def _starts(setup: common.Setup, samples: int) -> tuple[dict, dict]:
    """The four cases of `start` against gunicorn; returns the times and answers per case."""
    known = _known_contacts("+3362", 2 * samples)  # one per request of the two "known" cases
    conn, key = common.connect(), common.partner(setup)
    registered = list(range(samples))  # people with an entry, through contacts of their own
    for n in registered:
        body = common.registration_body(setup.window, n, contact=f"+3363{n:07d}")
        _times, refused = common.register(conn, body, f"10.1.{n // 250}.{n % 250}", key)
        assert refused is None, f"registration {n} refused: {refused}"
    plan = [(case, i) for case in range(4) for i in range(samples)]
    random.Random(7).shuffle(plan)
    timings, answers = {c: [] for c in range(4)}, {c: set() for c in range(4)}
    for k, (case, i) in enumerate(plan):
        fresh = 100_000 + k
        person = registered[i] if case in (1, 3) else fresh
        phone = known[i + (case == 3) * samples] if case >= 2 else f"+3364{fresh:07d}"
        body = common.registration_body(setup.window, person, contact=phone)
        ip = f"10.2.{k // 250 % 250}.{k % 250}"
        status, payload, took = common.post(conn, "/api/v1/registrations/", body, ip, key)
        data = json.loads(payload)
        answers[case].add((status, tuple(sorted(data)), data.get("status")))
        timings[case].append(took)
    return timings, answers


def _logins(samples: int) -> tuple[dict, dict]:
    """A new and a known contact's log-in send, in this process."""
    from accounts import otp
    from config.errors import DomainError

    known = _known_contacts("+3365", samples)
    plan = [(case, i) for case in range(2) for i in range(samples)]
    random.Random(8).shuffle(plan)
    timings, answers = {c: [] for c in range(2)}, {c: set() for c in range(2)}
    for k, (case, i) in enumerate(plan):
        phone = known[i] if case else f"+3366{k:07d}"
        began = time.perf_counter()
        try:
            otp.start_login(
                kind="phone", value=phone, client_ip=f"10.3.{k // 250}.{k % 250}",
                proof_ok=True, language="fr",
            )  # fmt: skip
            answer = "code sent"
        except DomainError as error:
            answer = error.code
        timings[case].append(time.perf_counter() - began)
        answers[case].add(answer)
    return timings, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=150, help="requests per case")
    args = parser.parse_args()
    if not 2 <= args.samples <= 100_000:
        sys.exit("--samples must be between 2 and 100,000")
    common.require_services("bench/enumeration.py")
    common.setup_django()
    setup = common.prepare_database()
    server = common.start_server(1)
    try:
        starts = _starts(setup, args.samples)
    finally:
        common.stop_server(server)
    logins = _logins(args.samples)
    print(f"samples per case: {args.samples}")
    print("API start, one client, gunicorn 1 worker:")
    _print(START_CASES, *starts)
    print("log-in send (otp.start_login), in process:")
    _print(LOGIN_CASES, *logins)


if __name__ == "__main__":
    main()
