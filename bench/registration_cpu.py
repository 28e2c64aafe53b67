"""CPU per request in one process: a registration step by step (the three API requests through
Django's test client, no HTTP server, no other client, and the code read back from the outbox
between them), each kind of junk of bench/junk.py, and the baseline view's request. It counts
CPU time, not a rate, so it says where the time goes whatever else the machine is doing: this
process's CPU, and that of the PostgreSQL backend serving its connection (read from /proc when
PostgreSQL runs on this machine).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairslot_bench \
    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/registration_cpu.py --count 300

The database is wiped first (its name must end in _bench).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.junk import JUNK_KINDS, junk_request

STEPS = ("start", "code read", "verify", "submit")


def _backend_cpu(pid: int) -> float:
    """CPU seconds used so far by process `pid` (NaN if /proc cannot tell)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


class Bench:
    def __init__(self, setup: common.Setup):
        from django.test import Client

        self.setup = setup
        self.client = Client(HTTP_HOST="127.0.0.1")
        self.steps = dict.fromkeys(STEPS, 0.0)

    def post(self, path: str, body: dict, ip: str, **headers):
        response = self.client.post(
            path, json.dumps(body), content_type="application/json",
            HTTP_X_FORWARDED_FOR=ip, **headers,
        )  # fmt: skip
        return response.status_code, response

    def step(self, name: str, call):
        began = time.process_time()
        result = call()
        self.steps[name] += time.process_time() - began
        return result

    def register(self, n: int) -> None:
        ip, body = common.address(n), common.registration_body(self.setup.window, n)
        key = f"Bearer {self.setup.partner_key}"
        start = "/api/v1/registrations/"
        status, response = self.step(
            "start", lambda: self.post(start, body, ip, HTTP_AUTHORIZATION=key)
        )
        assert status == 202, response.content
        token = response.json()["token"]
        verify = {
            "token": token,
            "code": self.step("code read", lambda: common.code_for(body["contact"])),
        }
        status, response = self.step(
            "verify", lambda: self.post("/api/v1/registrations/verify/", verify, ip)
        )
        assert status == 200, response.content
        status, response = self.step(
            "submit", lambda: self.post("/api/v1/registrations/submit/", {"token": token}, ip)
        )
        assert status == 201, response.content

    def baseline(self) -> None:
        status, response = self.post("/bench/baseline/", {}, "10.255.0.1")
        assert status == 201, response.content

    def junk(self, k: int) -> None:
        """The k-th junk request of bench/junk.py (so, kind k modulo its kinds)."""
        _kind, path, body, headers = junk_request(self.setup, k)
        data = body if isinstance(body, bytes) else json.dumps(body)
        meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
        response = self.client.post(
            path, data, content_type="application/json", HTTP_X_FORWARDED_FOR="10.200.0.1", **meta
        )
        assert 400 <= response.status_code < 500, response.content


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _measure(function, count: int, pid: int) -> tuple[float, float]:
    """CPU seconds of this process and of its PostgreSQL backend per call of function(i)."""
    began, began_db = time.process_time(), _backend_cpu(pid)
    for i in range(count):
        function(i)
    return (time.process_time() - began) / count, (_backend_cpu(pid) - began_db) / count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="registrations timed")
    args = parser.parse_args()
    common.require_services("bench/registration_cpu.py")
    common.setup_django()
    bench = Bench(common.prepare_database())
    for n in range(20):  # warm up: imports, connections
        bench.register(n)
        bench.baseline()
    bench.steps = dict.fromkeys(STEPS, 0.0)
    pid = _backend_pid()
    registration, registration_db = _measure(lambda i: bench.register(100 + i), args.count, pid)
    request, request_db = _measure(lambda _i: bench.baseline(), 3 * args.count, pid)
    steps = ", ".join(
        f"{name} {spent / args.count * 1000:.2f}" for name, spent in bench.steps.items()
    )
    print(f"CPU per registration (3 requests and the code read): {registration * 1000:.2f} ms")
    print(f"  by step, ms: {steps}")
    print(f"CPU per baseline request: {request * 1000:.2f} ms")
    print(f"PostgreSQL backend CPU per registration: {registration_db * 1000:.2f} ms, "
          f"per baseline request: {request_db * 1000:.2f} ms")  # fmt: skip
    both = (registration + registration_db) / (3 * (request + request_db))
    print(f"one registration request costs {both:.1f} baseline requests (both processes)")
    kinds = len(JUNK_KINDS)
    for index, kind in enumerate(JUNK_KINDS):
        spent, spent_db = _measure(lambda i, at=index: bench.junk(i * kinds + at), args.count, pid)
        print(f"CPU per junk request, {kind}: {spent * 1000:.2f} ms, "
              f"PostgreSQL {spent_db * 1000:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
