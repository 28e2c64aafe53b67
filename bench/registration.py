"""Registration throughput: completed registrations (start, verify, submit) per second against
gunicorn + PostgreSQL + Redis on loopback, with latency percentiles, and in the same run the
baseline: a bare Django view inserting one row (bench/urls.py), at the same concurrency.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairslot_bench \
    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/registration.py

Each client is a process of its own (its own GIL) registering one person after another, closed
loop, with the partner key (so no proof of work to solve), each person from an address of
its own (the per-address limits apply as to real people). Codes are read back from the outbox.

The machine's speed drifts within minutes (other work on the host), so timed phases of
`--phase-seconds` alternate: baseline, then `--rounds` times registrations followed by baseline.
A round's ratio compares its registration requests per second with the mean of the baselines
on either side; the ratio printed is the median of the rounds'.
"""

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

# Numbers (phones, addresses) set aside for each client in each registration phase: a client
# registers far fewer than 100 people a second, so they last a phase of up to 10 s.
PER_PHASE = 1000


def _registrations(args):
    """One client's registrations until `until` (time.time()): the registrations' and the
    requests' latencies, and the refusals by status (or by error for a failed connection)."""
    setup, first, until = args
    conn = common.connect()
    latencies, requests, errors = [], [], {}
    for n in range(first, first + PER_PHASE):
        if time.time() >= until:
            break
        began = time.perf_counter()
        body = common.registration_body(setup.window, n)
        try:
            times, refused = common.register(conn, body, common.address(n), common.partner(setup))
        except OSError as error:
            times, refused, conn = [], type(error).__name__, common.connect()
        if refused:
            errors[refused] = errors.get(refused, 0) + 1
            continue
        latencies.append(time.perf_counter() - began)
        requests += times
    return latencies, requests, errors


def _baseline(until: float):
    conn = common.connect()
    latencies, errors = [], 0
    while time.time() < until:
        status, _payload, took = common.post(conn, "/bench/baseline/", {}, "10.255.0.1")
        errors += status != 201
        latencies.append(took)
    return latencies, errors


def _phase(pool, function, arguments):
    began = time.perf_counter()
    results = pool.map(function, arguments)
    return results, time.perf_counter() - began


def _run(args, setup):
    """The phases: warm-up (not counted), then baseline and rounds of registrations, baseline."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(args.clients, initializer=common.setup_django) as pool:
        clients = range(args.clients)

        def registrations(round_):
            until = time.time() + args.phase_seconds
            work = [(setup, (round_ * args.clients + c) * PER_PHASE, until) for c in clients]
            return _phase(pool, _registrations, work)

        def baseline():
            return _phase(pool, _baseline, [time.time() + args.phase_seconds] * args.clients)

        registrations(args.rounds)  # warm-up: imports, connections of every worker and client
        bases, rounds = [baseline()], []
        for round_ in range(args.rounds):
            rounds.append(registrations(round_))
            bases.append(baseline())
    return bases, rounds


def _report(args, bases, rounds):
    base_rates = [sum(len(lat) for lat, _e in results) / took for results, took in bases]
    ratios = []
    for index, (results, took) in enumerate(rounds):
        rate = sum(len(req) for _l, req, _e in results) / took
        ratios.append(rate / ((base_rates[index] + base_rates[index + 1]) / 2))
        count = sum(len(lat) for lat, _r, _e in results)
        print(f"round {index + 1}: registrations/s {count / took:.1f}, ratio {ratios[-1]:.2f}")
    results = [client for results, _took in rounds for client in results]
    registrations = [x for lat, _r, _e in results for x in lat]
    requests = [x for _l, req, _e in results for x in req]
    errors = {}
    for _l, _r, refused in results:
        for status, count in refused.items():
            errors[status] = errors.get(status, 0) + count
    reg_seconds = sum(took for _results, took in rounds)
    base_latencies = [x for results, _took in bases for lat, _e in results for x in lat]
    base_errors = sum(e for results, _took in bases for _lat, e in results)
    base_rate = len(base_latencies) / sum(took for _results, took in bases)
    pct = common.percentile
    print(
        f"clients={args.clients} gunicorn_workers={args.gunicorn_workers} "
        f"rounds={args.rounds} phase_seconds={args.phase_seconds}"
    )
    print(f"registrations completed: {len(registrations)}  refused: {errors or 0}")
    print(
        f"registrations/s: {len(registrations) / reg_seconds:.1f}  "
        f"registration requests/s: {len(requests) / reg_seconds:.1f}"
    )
    print(
        f"registration p50/p95/p99 ms: {pct(registrations, 50):.0f} / "
        f"{pct(registrations, 95):.0f} / {pct(registrations, 99):.0f}"
    )
    print(
        f"request p50/p95/p99 ms: {pct(requests, 50):.0f} / {pct(requests, 95):.0f} / "
        f"{pct(requests, 99):.0f}"
    )
    print(
        f"baseline requests/s: {base_rate:.1f}  errors: {base_errors}  "
        f"p50/p95 ms: {pct(base_latencies, 50):.0f} / {pct(base_latencies, 95):.0f}"
    )
    print(
        f"ratio of registration requests/s to baseline requests/s (median of the rounds, "
        f"min-max): {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="client processes")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--phase-seconds", type=float, default=4.0)
    args = parser.parse_args()
    if not (args.rounds > 0 and (args.rounds + 1) * args.clients * PER_PHASE <= 10**7):
        sys.exit("(--rounds + 1) x --clients must stay under 10,000 (phones +3361nnnnnnn)")
    if not 0 < args.phase_seconds <= 10:
        sys.exit("--phase-seconds must be between 0 and 10")
    common.require_services("bench/registration.py")
    common.setup_django()
    setup = common.prepare_database()
    server = common.start_server(args.gunicorn_workers)
    try:
        bases, rounds = _run(args, setup)
    finally:
        common.stop_server(server)
    _report(args, bases, rounds)


if __name__ == "__main__":
    main()
