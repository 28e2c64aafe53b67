"""What the registration benchmarks share: the server's environment, a wiped database with an
open window and a partner key, gunicorn on loopback, and one registration through the API with
its code read back from the outbox, as a phone would receive it.

The database named in DATABASE_URL is wiped: its name must end in _bench.
"""

import http.client
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PORT = 8765


def server_env() -> dict:
    env = dict(os.environ)
    env.setdefault("SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789")
    env.setdefault("FIELD_ENCRYPTION_KEYS", "Q3hF3m3lq0cVwVh2b3aM1bVf2GZsN1m2bTQ5dW9wV0E=")
    env.setdefault("BLIND_INDEX_KEY", "bench-blind-index-key-0123456789abcdef0123")
    # As in production the broker is Redis; no worker runs: the codes are read from the outbox.
    env.setdefault("CELERY_BROKER_URL", env.get("REDIS_URL", ""))
    env.update(
        {
            "DEBUG": "0",
            "ALLOW_CONSOLE_BACKENDS": "1",  # e-mails, if any, on the console
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "SECURE_COOKIES": "0",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # One proxy in front: each simulated person comes from its own X-Forwarded-For.
            "TRUSTED_PROXY_COUNT": "1",
            "SMS_DAILY_BUDGET": "10000000",
            "SMS_BACKEND": "accounts.sms.OutboxOnlyBackend",
        }
    )
    return env


def setup_django() -> None:
    os.environ.update(server_env())
    import django

    django.setup()


def require_services(script: str) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit(f"{script} needs DATABASE_URL=postgres://..._bench and REDIS_URL=redis://...")
    if not url.rstrip("/").endswith("_bench"):
        sys.exit(f"{script} wipes its database: its name must end in _bench.")


@dataclass(frozen=True)
class Setup:
    window: str  # the open window's code
    partner_key: str  # a partner key of the window's prefecture


def prepare_database() -> Setup:
    """A fresh schema with an open window offering RENEWAL and a partner key for it; every rate
    limit and the cache forgotten."""
    from datetime import timedelta

    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts import ratelimit
    from accounts.models import Role, User
    from booking.models import Prefecture, Procedure, Window, WindowState
    from booking.partners import create_partner_key

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
    supervisor = User.objects.create(
        username="bench-supervisor", role=Role.SUPERVISOR, prefecture=prefecture
    )
    _row, key = create_partner_key(prefecture=prefecture, name="Bench", actor=supervisor)
    cache.clear()  # the cache's Redis database (REDIS_URL): used solutions of proofs of work
    ratelimit.reset()  # the limits keep their counts in keys of their own
    connection.close()  # not carried into forked or spawned processes
    return Setup(window=window.code, partner_key=key)


def start_server(workers: int) -> subprocess.Popen:
    """gunicorn (sync workers) on PORT with the benchmark settings, returned once it answers."""
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "bench.wsgi", "-w", str(workers),
         "-b", f"127.0.0.1:{PORT}", "--log-level", "warning"],
        cwd=ROOT, env=server_env(),
    )  # fmt: skip
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/")
            break
        except OSError:
            time.sleep(0.1)
    return server


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(10)


def connect() -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)


def post(conn, path: str, body, ip: str, headers: dict | None = None):
    """POST `body` (JSON, or bytes sent as they are) from client address `ip`; returns the
    status, the payload and the seconds it took."""
    began = time.perf_counter()
    data = body if isinstance(body, bytes) else json.dumps(body)
    conn.request(
        "POST",
        path,
        body=data,
        headers={"Content-Type": "application/json", "X-Forwarded-For": ip, **(headers or {})},
    )
    response = conn.getresponse()
    payload = response.read()
    return response.status, payload, time.perf_counter() - began


def phone(n: int) -> str:
    """The n-th synthetic applicant's phone (n under 10 million)."""
    return f"+3361{n:07d}"


def address(n: int) -> str:
    """A client address of its own for the n-th registration (per-address limits an hour)."""
    return f"10.{n // 62500 % 250}.{n // 250 % 250}.{n % 250}"


def registration_body(window: str, n: int, contact: str | None = None) -> dict:
    """The answers of the n-th synthetic applicant, by default with phone(n)."""
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
        "contact": contact or phone(n),
    }


def code_for(contact: str) -> str:
    """The last code sent to `contact`, read from the outbox (the client's own connection)."""
    from accounts import contacts
    from accounts.models import OutboxMessage

    device = contacts.find_contact(value=contact).device
    message = OutboxMessage.objects.get(dedup_key=f"otp:{device.pk}:{device.sent_count}")
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def partner(setup: Setup) -> dict:
    return {"Authorization": f"Bearer {setup.partner_key}"}


def register(conn, body: dict, ip: str, start_headers: dict) -> tuple[list[float], int | None]:
    """One registration through the API: start (with `start_headers`: a partner key, or none
    when `body` carries a proof), verify with the code read back, submit. Returns the three
    requests' times and None, or the times so far and the status of the request refused."""
    status, payload, took = post(conn, "/api/v1/registrations/", body, ip, start_headers)
    if status != 202:
        return [took], status
    token = json.loads(payload)["token"]
    verify = {"token": token, "code": code_for(body["contact"])}
    status, _payload, took2 = post(conn, "/api/v1/registrations/verify/", verify, ip)
    if status != 200:
        return [took, took2], status
    status, _payload, took3 = post(conn, "/api/v1/registrations/submit/", {"token": token}, ip)
    return [took, took2, took3], None if status == 201 else status


def percentile(values, q: int) -> float:
    """The q-th percentile of `values` (seconds) in milliseconds."""
    import statistics

    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else 0.0
