"""CPU per request of each process taking part, against gunicorn: one client, one request at a
time, N registrations (start, verify, submit) then 3N baseline requests. Counted from /proc, for
the gunicorn workers, every PostgreSQL process (the backends and the WAL writer and the rest),
Redis, and the client itself (which reads each code back from the outbox). Unlike the rates of
bench/registration.py, these counts do not depend on how busy the host is in a given second,
only on how fast it runs; the CPU ratio printed last estimates, for a CPU-bound machine, the
ratio of registration requests to baseline requests per second.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairslot_bench \\
    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/registration_http_cpu.py --count 300

The database is wiped first (its name must end in _bench).
"""

import argparse
import http.client
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import registration as bench


def _pids(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


def _snapshot(groups: dict) -> dict:
    counts = {name: sum(bench.process_cpu(pid) for pid in pids) for name, pids in groups.items()}
    counts["client"] = time.process_time()
    return counts


def _delta(before: dict, after: dict, requests: int) -> dict:
    return {name: (after[name] - before[name]) / requests * 1000 for name in before}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    window = bench.bench_database("bench/registration_http_cpu.py")
    from django.db import connection

    connection.close()
    server = bench.start_server(1)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", bench.PORT, timeout=30)

        def register(n: int) -> None:
            refused = bench.register(conn, window, n, bench.address(n)) is None
            assert not refused, f"registration {n} refused"

        def baseline(_n: int) -> None:
            status, payload, _t = bench._post(conn, "/bench/baseline/", {}, "10.0.0.1")
            assert status == 201, payload

        for n in range(20):  # warm up: imports, connections, prepared statements
            register(n)
            baseline(n)
        groups = {
            "gunicorn": [pid for pid in _pids("gunicorn bench.wsgi") if pid != server.pid],
            "postgres": _pids("postgres"),
            "redis": _pids("redis-server"),
        }
        began = _snapshot(groups)
        for n in range(100, 100 + args.count):
            register(n)
        middle = _snapshot(groups)
        for n in range(3 * args.count):
            baseline(n)
        ended = _snapshot(groups)
    finally:
        server.terminate()
        server.wait(10)
    per_registration_request = _delta(began, middle, 3 * args.count)
    per_baseline_request = _delta(middle, ended, 3 * args.count)
    print("CPU per request, ms:       " + "  ".join(f"{name:>9}" for name in began) + "      all")
    for label, counts in (
        ("registration request", per_registration_request),
        ("baseline request", per_baseline_request),
    ):
        cells = "  ".join(f"{value:9.3f}" for value in counts.values())
        print(f"{label:26} {cells}  {sum(counts.values()):7.3f}")
    ratio = sum(per_baseline_request.values()) / sum(per_registration_request.values())
    print(f"CPU ratio (baseline request / registration request): {ratio:.2f}")


if __name__ == "__main__":
    main()
