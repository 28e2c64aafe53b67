"""Registration throughput: completed registrations (start, verify, submit) per second against
gunicorn + PostgreSQL + Redis on loopback, with latency percentiles, and in the same run the
baseline: a bare Django view inserting one row, at the same concurrency.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairslot_bench \
    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/registration.py

Clients are separate processes (threads inside), so the client's GIL does not cap the server.
Codes are read back from the outbox in the database, as a phone would receive them.

The machine's speed drifts within minutes (other work on the host), so the phases alternate:
a baseline phase, then `--rounds` times a registration phase followed by a baseline phase. Each
round's ratio compares its registration requests with the mean of the baselines on either side
of it; the ratio printed last is the median over the rounds. A baseline phase sends 9 requests
per registration of a registration phase (`--per-client`), so that it lasts about as long: with
3 (as before 2026-11-27, fifth round) it lasted a few seconds, and a slow second of the host
moved a round's ratio by up to 0.1.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PORT = 8765


def _env() -> dict:
    env = dict(os.environ)
    env.setdefault("SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789")
    env.setdefault("FIELD_ENCRYPTION_KEYS", "Q3hF3m3lq0cVwVh2b3aM1bVf2GZsN1m2bTQ5dW9wV0E=")
    env.setdefault("BLIND_INDEX_KEY", "bench-blind-index-key-0123456789abcdef0123")
    # As in production, the broker is Redis (messages are queued for a worker that this
    # benchmark does not run; the codes are read back from the outbox).
    env.setdefault("CELERY_BROKER_URL", env.get("REDIS_URL", ""))
    env.update(
        {
            "DEBUG": "0",
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "SECURE_COOKIES": "0",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "TRUSTED_PROXY_COUNT": "1",
            "SMS_DAILY_BUDGET": "10000000",
            "SMS_BACKEND": "accounts.sms.OutboxOnlyBackend",
        }
    )
    return env


def _setup_django():
    os.environ.update(_env())
    import django

    django.setup()


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system) used so far by process `pid`, from /proc; NaN if it cannot
    be read (not on this machine, or ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def bench_database(script: str) -> str:
    """Set Django up on the benchmark database, which is wiped (its name must end in _bench),
    with an open window; returns the window's code."""
    if not os.environ.get("DATABASE_URL", "").rstrip("/").endswith("_bench"):
        sys.exit(f"{script} wipes its database: its name must end in _bench.")
    _setup_django()
    return _prepare()


def _prepare() -> str:
    """Fresh schema and an open window; returns its code."""
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from booking.models import Prefecture, Procedure, Window, WindowState

    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    prefecture = Prefecture.objects.create(code="BENCH", name="Bench")
    procedure = Procedure.objects.create(prefecture=prefecture, code="RENEWAL", name="Renewal")
    now = timezone.now()
    window = Window.objects.create(
        prefecture=prefecture,
        code="BENCH-1",
        title="Bench",
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=1),
        freeze_at=now + timedelta(days=1),
        reveal_deadline=now + timedelta(days=2),
        state=WindowState.OPEN,
    )
    window.procedures.set([procedure])
    from django.core.cache import cache

    from accounts import ratelimit

    cache.clear()
    ratelimit.reset()  # the limits keep their counts in their own keys, not the cache's
    return window.code


CODE_SQL = """
    SELECT o.body FROM accounts_outboxmessage o
    JOIN accounts_contactcodedevice d ON o.dedup_key = 'otp:' || d.id || ':' || d.sent_count
    JOIN accounts_contact c ON c.id = d.contact_id WHERE c.value_hash = %s"""


def _code_for(phone_e164: str) -> str:
    """The code as the phone receives it: the last code message of this contact (one query,
    prepared on the server once per connection, so that the clients, which share the machine
    with the server, cost it little: planning it anew cost PostgreSQL about 0.85 ms a time)."""
    from django.db import connection

    from accounts.crypto import blind_index, decrypt
    from accounts.together import cursor_for

    with cursor_for(connection) as cursor:
        cursor.execute(CODE_SQL, [blind_index("contact", phone_e164)])
        (body,) = cursor.fetchone()
    return re.search(r"\b(\d{6})\b", decrypt(body)).group(1)


def _post(conn, path, body, ip):
    start = time.perf_counter()
    conn.request(
        "POST",
        path,
        body=json.dumps(body),
        headers={"Content-Type": "application/json", "X-Forwarded-For": ip},
    )
    response = conn.getresponse()
    payload = response.read()
    return response.status, payload, time.perf_counter() - start


def phone(n: int) -> str:
    """The n-th synthetic applicant's phone."""
    return f"+3361{n:07d}"


def address(n: int) -> str:
    """A client address of its own for the n-th registration (per-address limits apply)."""
    return f"10.{n // 62500 % 250}.{n // 250 % 250}.{n % 250}"


def registration_body(window: str, n: int) -> dict:
    """The answers of the n-th synthetic applicant (phone +3361nnnnnnn)."""
    return {
        "window": window,
        "procedure": "RENEWAL",
        "identity_kind": "agdref",
        "identifier": f"{7000000000 + n}",
        "family_name": f"Bench{n}",
        "given_names": "Test",
        "birth_date": "1990-01-01",
        "nationality": "AF",
        "contact_kind": "phone",
        "contact": phone(n),
    }


def register(conn, window: str, n: int, ip: str) -> list[float] | None:
    """The n-th synthetic applicant's registration through the API (start, verify with the code
    read back, submit); the three requests' times, or None if one was refused."""
    status, payload, t1 = _post(conn, "/api/v1/registrations/", registration_body(window, n), ip)
    if status != 202:
        return None
    token = json.loads(payload)["token"]
    body = {"token": token, "code": _code_for(phone(n))}
    status, _p, t2 = _post(conn, "/api/v1/registrations/verify/", body, ip)
    status3, _p, t3 = _post(conn, "/api/v1/registrations/submit/", {"token": token}, ip)
    if status != 200 or status3 != 201:
        return None
    return [t1, t2, t3]


def _registration_worker(args):
    worker, count, window, round_, clients = args
    from django.db import connection

    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    latencies, request_latencies, errors = [], [], 0
    for i in range(count):
        n = (round_ * clients + worker) * count + i  # a new person and phone in every round
        k = round_ * count + i  # and a new address: without proof, 5 codes an hour each
        began = time.perf_counter()
        times = register(conn, window, n, f"10.{worker % 250}.{k // 250 % 250}.{k % 250}")
        if times is None:
            errors += 1
            continue
        latencies.append(time.perf_counter() - began)
        request_latencies += times
    connection.close()
    return latencies, request_latencies, errors


def _baseline_worker(args):
    _worker, count = args
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    latencies, errors = [], 0
    for _ in range(count):
        status, _p, elapsed = _post(conn, "/bench/baseline/", {}, "10.0.0.1")
        errors += status != 201
        latencies.append(elapsed)
    return latencies, errors


def _warm(_index):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    for path in ("/api/v1/registrations/status/", "/bench/baseline/"):
        _post(conn, path, {"token": "warm-up"}, "10.255.0.1")
    return True


def start_server(workers: int) -> subprocess.Popen:
    """gunicorn on PORT with the benchmark settings, returned once it answers."""
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "bench.wsgi", "-w", str(workers),
         "-b", f"127.0.0.1:{PORT}", "--log-level", "warning"],
        cwd=ROOT, env=_env(),
    )  # fmt: skip
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/")
            break
        except OSError:
            time.sleep(0.1)
    return server


def _registrations(pool, args, window, round_):
    began = time.perf_counter()
    results = pool.map(
        _registration_worker,
        [(w, args.per_client, window, round_, args.clients) for w in range(args.clients)],
    )
    return results, time.perf_counter() - began


def _baselines(pool, args):
    began = time.perf_counter()
    results = pool.map(_baseline_worker, [(w, args.per_client * 9) for w in range(args.clients)])
    return results, time.perf_counter() - began


def _pct(values, q):
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=40)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not 0 < args.per_client <= 10000:
        sys.exit("--per-client must be between 1 and 10000")
    if (args.rounds + 1) * args.clients * args.per_client >= 10**7:  # phones +3361nnnnnnn
        sys.exit("(--rounds + 1) x --clients x --per-client must stay under 10 million")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get(
        "REDIS_URL"
    ):
        sys.exit(
            "bench/registration.py needs DATABASE_URL=postgres://... and REDIS_URL=redis://..."
        )
    window = bench_database("bench/registration.py")
    from django.db import connection

    connection.close()
    server = start_server(args.gunicorn_workers)
    try:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(args.clients, initializer=_setup_django) as pool:
            # Warm up outside the measurement: client processes import Django, gunicorn
            # workers open their connections.
            pool.map(_warm, range(args.clients * 4))
            # and a registration round, not counted: every worker's connection prepares its
            # statements (the first round of the counted ones came out a tenth lower before).
            _registrations(pool, args, window, args.rounds)
            phases = [_baselines(pool, args)]
            for round_ in range(args.rounds):
                phases.append(_registrations(pool, args, window, round_))
                phases.append(_baselines(pool, args))
    finally:
        server.terminate()
        server.wait(10)
    bases, rounds = phases[0::2], phases[1::2]
    base_rates = [sum(len(lat) for lat, _e in base) / elapsed for base, elapsed in bases]
    ratios = []
    for index, (results, elapsed) in enumerate(rounds):
        count = sum(len(req) for _l, req, _e in results)
        around = (base_rates[index] + base_rates[index + 1]) / 2
        ratios.append(count / elapsed / around)
        print(
            f"round {index + 1}: registrations/s {count / 3 / elapsed:.1f}, baseline "
            f"requests/s {base_rates[index]:.0f} before and {base_rates[index + 1]:.0f} after, "
            f"ratio {ratios[-1]:.2f}"
        )
    results = [worker for results, _elapsed in rounds for worker in results]
    reg_elapsed = sum(elapsed for _results, elapsed in rounds)
    base = [worker for base, _elapsed in bases for worker in base]
    registrations = [x for lat, _r, _e in results for x in lat]
    requests = [x for _l, req, _e in results for x in req]
    errors = sum(e for _l, _r, e in results)
    base_lat = [x for lat, _e in base for x in lat]
    base_errors = sum(e for _l, e in base)
    reg_rate = len(registrations) / reg_elapsed
    req_rate = len(requests) / reg_elapsed
    base_rate = len(base_lat) / sum(elapsed for _base, elapsed in bases)
    print(
        f"clients={args.clients} per_client={args.per_client} rounds={args.rounds} "
        f"gunicorn_workers={args.gunicorn_workers}"
    )
    print(f"registrations completed: {len(registrations)}  errors: {errors}")
    print(f"registrations/s: {reg_rate:.1f}   registration requests/s: {req_rate:.1f}")
    print(
        f"registration p50/p95/p99 ms: {_pct(registrations, 50):.0f} / "
        f"{_pct(registrations, 95):.0f} / {_pct(registrations, 99):.0f}"
    )
    print(
        f"per-request p50/p95/p99 ms: {_pct(requests, 50):.0f} / {_pct(requests, 95):.0f} / "
        f"{_pct(requests, 99):.0f}"
    )
    print(
        f"baseline requests/s: {base_rate:.1f}  errors: {base_errors}  p95 ms: "
        f"{_pct(base_lat, 95):.0f}"
    )
    print(
        "ratio registration requests/s to baseline (median of the rounds' ratios): "
        f"{statistics.median(ratios):.2f}"
    )


if __name__ == "__main__":
    main()
