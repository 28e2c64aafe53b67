"""CPU per registration inside one process (no HTTP server, no other clients): the three API
requests through Django's test client against PostgreSQL and Redis, and in the same process the
baseline view's request. Steadier than bench/registration.py for comparing two versions of the
code on a shared machine, since it counts CPU time rather than a rate: this process's, and,
when PostgreSQL runs on this machine, that of the server process serving its connection.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairslot_bench \
    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/registration_cpu.py --count 400

The database is wiped first (its name must end in _bench). The code is read back from the
outbox as in bench/registration.py, and that read is counted in the registration's CPU.
"""

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import registration as bench


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400)
    args = parser.parse_args()
    window = bench.bench_database("bench/registration_cpu.py")
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")

    def post(path, body, ip):
        response = client.post(
            path, json.dumps(body), content_type="application/json", HTTP_X_FORWARDED_FOR=ip
        )
        return response.status_code, response

    steps = dict.fromkeys(("start", "code read", "verify", "submit"), 0.0)

    def step(name, call):
        began = time.process_time()
        result = call()
        steps[name] += time.process_time() - began
        return result

    def register(n):
        ip = bench.address(n)
        body = bench.registration_body(window, n)
        status, response = step("start", lambda: post("/api/v1/registrations/", body, ip))
        assert status == 202, response.content
        token = response.json()["token"]
        code = step("code read", lambda: bench._code_for(bench.phone(n)))
        verify = {"token": token, "code": code}
        status, response = step("verify", lambda: post("/api/v1/registrations/verify/", verify, ip))
        assert status == 200, response.content
        status, response = step(
            "submit", lambda: post("/api/v1/registrations/submit/", {"token": token}, ip)
        )
        assert status == 201, response.content

    def baseline(_n):
        status, response = post("/bench/baseline/", {}, "10.0.0.1")
        assert status == 201, response.content

    for n in range(20):  # warm up: imports, connections, compiled statements
        register(n)
        baseline(n)
    server = _server_cpu()
    steps.update(dict.fromkeys(steps, 0.0))
    began, began_db = time.process_time(), server()
    for n in range(100, 100 + args.count):
        register(n)
    registration = (time.process_time() - began) / args.count
    registration_db = (server() - began_db) / args.count
    began, began_db = time.process_time(), server()
    for n in range(3 * args.count):
        baseline(n)
    request = (time.process_time() - began) / (3 * args.count)
    request_db = (server() - began_db) / (3 * args.count)
    print(f"CPU per registration (3 requests): {registration * 1000:.2f} ms")
    print(
        "  of which "
        + ", ".join(f"{name} {spent / args.count * 1000:.2f} ms" for name, spent in steps.items())
    )
    print(f"CPU per baseline request: {request * 1000:.2f} ms")
    print(f"registration / 3 baseline requests: {registration / (3 * request):.1f}")
    if registration_db == registration_db:  # not NaN: the server process could be read
        print(
            f"PostgreSQL CPU per registration: {registration_db * 1000:.2f} ms, per baseline "
            f"request: {request_db * 1000:.2f} ms; both together, registration / 3 baseline "
            f"requests: {(registration + registration_db) / (3 * (request + request_db)):.1f}"
        )


def _server_cpu():
    """A function returning the CPU seconds used so far by the PostgreSQL process serving this
    connection (NaN when it is not on this machine or cannot be read)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()

    return partial(bench.process_cpu, pid)


if __name__ == "__main__":
    main()
