"""People versus junk: legitimate registrations at a steady rate while bots send junk to the
registration API, against gunicorn + PostgreSQL + Redis on loopback.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairslot_bench \
    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/junk.py

People (`--people-rate` registrations a second, open loop: a person arrives on schedule whether
or not the others are done) each come from an address of their own; a share of them
(`--proof-share`) send a proof of work (solved beforehand, as a browser solves it while the
person fills the form), the others come through a partner tool with its key. A registration is
start, verify with the code read back from the outbox, and submit; its time runs from the
moment the person arrived.

Junk (`--junk-rate` requests a second, from 8,000 addresses) comes from 32 senders, each on its
own schedule; a sender that falls behind (the server answers too slowly) sends as soon as its
previous answer came, so the rate achieved is what the server absorbed. It is what a bot sends,
in equal shares: malformed JSON (to start, verify and submit in turn), made-up tokens on verify
and on submit, starts without a proof and without a key, starts with a wrong partner key,
starts with a forged proof. Every junk answer must be a 4xx; a 5xx or a refused connection is
counted as such.

Reported: the people's success rate and p50/p95, the junk rate achieved and the junk answers by
kind and status. The database is wiped first (its name must end in _bench).
"""

import argparse
import base64
import json
import multiprocessing
import queue
import secrets
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

START = "/api/v1/registrations/"
VERIFY, SUBMIT = f"{START}verify/", f"{START}submit/"
JUNK_KINDS = (
    "malformed JSON",
    "made-up token on verify",
    "made-up token on submit",
    "start without proof or key",
    "start with a wrong partner key",
    "start with a forged proof",
)
PEOPLE_THREADS = 16
JUNK_PROCESSES, JUNK_THREADS = 2, 16


def _proofs(count: int) -> list[str]:
    """`count` proofs of work, each for a challenge asked of the server, as a browser does."""
    from accounts import pow

    conn, proofs = common.connect(), []
    for _ in range(count):
        conn.request("GET", "/altcha/challenge/")
        challenge = json.loads(conn.getresponse().read())
        proofs.append(pow.encode_solution(challenge, pow.solve(challenge)))
    return proofs


def _person(conn, setup: common.Setup, n: int, proof: str | None):
    body = common.registration_body(setup.window, n)
    headers = {} if proof else common.partner(setup)
    if proof:
        body["proof"] = proof
    try:
        _times, refused = common.register(conn, body, common.address(n), headers)
    except OSError as error:  # a refused or reset connection: the person failed too
        return type(error).__name__
    return refused


def _people(args):
    """The people's side, in one process: a scheduler and PEOPLE_THREADS threads taking the
    people as they arrive, person n with proofs[n] (None: the partner key). Returns
    [(proof or key, seconds from arrival to entry, refusal or None)]."""
    setup, rate, start_at, proofs = args
    from django.db import connection

    arrivals, results = queue.Queue(), []

    def serve():
        conn = common.connect()
        while (item := arrivals.get()) is not None:
            n, due, proof = item
            refused = _person(conn, setup, n, proof)
            if isinstance(refused, str):  # the connection failed: a new one for the next
                conn = common.connect()
            results.append(("proof" if proof else "key", time.time() - due, refused))
        connection.close()

    threads = [threading.Thread(target=serve) for _ in range(PEOPLE_THREADS)]
    for thread in threads:
        thread.start()
    for n, proof in enumerate(proofs):
        due = start_at + n / rate
        time.sleep(max(0.0, due - time.time()))
        arrivals.put((n, due, proof))
    for _thread in threads:
        arrivals.put(None)
    for thread in threads:
        thread.join()
    return results


def junk_request(setup: common.Setup, k: int):
    """The k-th junk request: (kind, path, body, headers)."""
    kind = JUNK_KINDS[k % len(JUNK_KINDS)]
    phone = f"+3369{secrets.randbelow(10**7):07d}"
    start = common.registration_body(setup.window, 0, contact=phone)
    token = {"token": secrets.token_urlsafe(32)}
    if kind == "malformed JSON":
        path = (START, VERIFY, SUBMIT)[k // len(JUNK_KINDS) % 3]
        return kind, path, b'{"window": "BENCH-1", "token": "abc', {}
    if kind == "made-up token on verify":
        return kind, VERIFY, {**token, "code": f"{secrets.randbelow(10**6):06d}"}, {}
    if kind == "made-up token on submit":
        return kind, SUBMIT, token, {}
    if kind == "start without proof or key":
        return kind, START, start, {}
    if kind == "start with a wrong partner key":
        return kind, START, start, {"Authorization": f"Bearer fsk_{secrets.token_urlsafe(32)}"}
    forged = {
        "algorithm": "SHA-256",
        "challenge": secrets.token_hex(32),
        "number": secrets.randbelow(50_000),
        "salt": f"{secrets.token_hex(12)}?expires={int(time.time()) + 600}",
        "signature": secrets.token_hex(32),
    }
    proof = base64.b64encode(json.dumps(forged).encode()).decode()
    return kind, START, {**start, "proof": proof}, {}


def _junk(args):
    """One junk process: JUNK_THREADS threads, each sending on its own schedule, the kinds in
    turn. Returns the answers [(kind, status)], the seconds each took, and the time it ran."""
    setup, process, rate, seconds, start_at = args
    answers, latencies = [], []
    senders = JUNK_PROCESSES * JUNK_THREADS
    interval = senders / rate  # between two requests of one thread

    def send(thread: int):
        conn = common.connect()
        slot = process * JUNK_THREADS + thread  # this thread's place among all the senders
        k = 0
        while (due := start_at + (k + slot / senders) * interval) < start_at + seconds:
            time.sleep(max(0.0, due - time.time()))
            kind, path, body, headers = junk_request(setup, k + slot)
            ip = f"10.200.{k % 250}.{slot}"
            try:
                status, _payload, took = common.post(conn, path, body, ip, headers)
                latencies.append(took)
            except OSError as error:
                status = type(error).__name__
                conn = common.connect()
            answers.append((kind, status))
            k += 1

    threads = [threading.Thread(target=send, args=(t,)) for t in range(JUNK_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, latencies, time.time() - start_at


def _warm_up(setup: common.Setup) -> None:
    """Imports, connections and caches of every gunicorn worker, not counted."""
    conn = common.connect()
    for n in range(16):
        common.register(conn, common.registration_body(setup.window, 9_000_000 + n),
                        common.address(9_000_000 + n), common.partner(setup))  # fmt: skip
        for k in range(len(JUNK_KINDS)):
            _kind, path, body, headers = junk_request(setup, k)
            common.post(conn, path, body, "10.200.1.1", headers)


def _run(args, setup):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1 + JUNK_PROCESSES, initializer=common.setup_django) as pool:
        _warm_up(setup)
        count, share = int(args.people_rate * args.seconds), args.proof_share
        # Spread evenly: person n has a proof when the running count of proofs goes up at n.
        with_proof = [int((n + 1) * share) > int(n * share) for n in range(count)]
        solved = iter(_proofs(sum(with_proof)))
        proofs = [next(solved) if proof else None for proof in with_proof]
        start_at = time.time() + 2  # every process ready and waiting
        people = (setup, args.people_rate, start_at, proofs)
        junk = [(setup, p, args.junk_rate, args.seconds, start_at) for p in range(JUNK_PROCESSES)]
        people, junk = pool.apply_async(_people, [people]), pool.map_async(_junk, junk)
        return people.get(), junk.get()


def _report(args, people, junk):
    pct = common.percentile
    ok = [took for _how, took, refused in people if refused is None]
    failures = Counter((how, refused) for how, _took, refused in people if refused is not None)
    print(
        f"seconds={args.seconds} people_rate={args.people_rate} junk_rate={args.junk_rate} "
        f"proof_share={args.proof_share} gunicorn_workers={args.gunicorn_workers}"
    )
    print(
        f"people: {len(people)} registrations, {len(ok)} completed "
        f"({len(ok) / len(people) * 100:.2f} %), failures: {dict(failures) or 0}"
    )
    print(
        f"people p50/p95/p99 ms (from arrival to entry): "
        f"{pct(ok, 50):.0f} / {pct(ok, 95):.0f} / {pct(ok, 99):.0f}"
    )
    for how in ("proof", "key"):
        times = [took for h, took, refused in people if h == how and refused is None]
        print(
            f"  with a {how}: {len(times)} completed, "
            f"p50/p95 ms {pct(times, 50):.0f} / {pct(times, 95):.0f}"
        )
    answers = [answer for process, _l, _s in junk for answer in process]
    latencies = [took for _a, process, _s in junk for took in process]
    seconds = max(took for _a, _l, took in junk)
    print(
        f"junk: {len(answers)} requests in {seconds:.1f} s = {len(answers) / seconds:.0f}/s, "
        f"p50/p95 ms {pct(latencies, 50):.0f} / {pct(latencies, 95):.0f}"
    )
    by_kind = Counter(answers)
    for kind in JUNK_KINDS:
        statuses = {status: n for (k, status), n in sorted(by_kind.items(), key=str) if k == kind}
        print(f"  {kind}: {statuses}")
    by_status = Counter(status for _kind, status in answers)
    print(f"junk answers by status: {dict(sorted(by_status.items(), key=str))}")
    bad = sum(
        n for status, n in by_status.items() if not (isinstance(status, int) and status < 500)
    )
    print(f"junk answers that were 5xx or failed connections: {bad}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--people-rate", type=float, default=10.0, help="registrations a second")
    parser.add_argument("--junk-rate", type=float, default=300.0, help="junk requests a second")
    parser.add_argument("--proof-share", type=float, default=0.5, help="people with a proof")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    args = parser.parse_args()
    if not (0 < args.people_rate * args.seconds < 1_000_000 and 0 <= args.proof_share <= 1):
        sys.exit("--people-rate x --seconds must stay under a million, --proof-share in [0, 1]")
    common.require_services("bench/junk.py")
    common.setup_django()
    setup = common.prepare_database()
    server = common.start_server(args.gunicorn_workers)
    try:
        people, junk = _run(args, setup)
    finally:
        common.stop_server(server)
    _report(args, people, junk)


if __name__ == "__main__":
    main()
