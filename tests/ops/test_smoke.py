"""The production shape, started without Docker: the image's own commands (read from the
Dockerfile: migrate, collectstatic as at build time, gunicorn, the Celery worker, Celery beat)
on a fresh PostgreSQL database and Redis, then an applicant registers through the API with the
code the worker delivered, and /readyz turns green once beat and the worker have run. Then a
tiny window is frozen and revealed (the demo command) and left to the beat's reconciler, which
has the worker run the draw as its Celery task, publish it and deliver the offer SMS; the
applicant confirms through its signed link and downloads the convocation PDF, and an agent
logged in with password and TOTP checks a person in at the desk.

Last, the three processes' logs: every line is a JSON line (LOG_FORMAT=json, the image's), and
none holds the registered person's identity, contact or secrets (issue 20)."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import redis
from django.conf import settings

from accounts import pow
from tests.ops.test_image import image_commands

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

ROOT = Path(settings.BASE_DIR)
VENV_BIN = ROOT / ".venv" / "bin"
TOKEN = "smoke-metrics-token-0123456789abcdef012345"
PERSON = {
    "identity_kind": "agdref",
    "identifier": "7512345678",
    "family_name": "Haidari",
    "given_names": "Amina",
    "birth_date": "1991-03-04",
    "nationality": "AF",
    "contact_kind": "phone",
    "contact": "0698765432",  # not the demo applicant: their seats are taken below
}
# The person's identity and contacts in every plaintext form they could take in a log, and the
# demo applicant's phone (the offer SMS go to it).
CANARIES = [
    *("Haidari", "haidari", "HAIDARI", "Amina", "AMINA"),
    *("7512345678", "75 1234 5678", "1991-03-04", "04/03/1991"),
    *("0698765432", "+33698765432", "33698765432", "06 98 76 54 32"),
    *("0612345678", "+33612345678", "33612345678"),
]
SMS_HEADER = re.compile(r"----- SMS to [^\n]* -----")
OFFER_LINK = re.compile(r"(/o/[0-9a-z]+\.([A-Za-z0-9_-]{12})/)")  # the link, its signature
COLLECTSTATIC = ["python", "manage.py", "collectstatic", "--no-input", "-v0"]  # as the image


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _executable(command: list[str]) -> list[str]:
    # The image puts its virtualenv first on PATH; here it is the project's.
    local = VENV_BIN / command[0]
    return [str(local) if local.exists() else command[0], *command[1:]]


def _database_url(name: str) -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER']}{password}@{host}:{port}/{name}"


def _redis_url(number: int) -> str:
    return re.sub(r"/\d+$", f"/{number}", os.environ["REDIS_URL"])


@pytest.fixture
def stack(tmp_path):
    """The environment of compose.yaml's services, on this machine's PostgreSQL and Redis."""
    name = f"{settings.DATABASES['default']['NAME']}_smoke"
    db = settings.DATABASES["default"]
    pg = ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"]]
    subprocess.run(["dropdb", *pg, "--if-exists", name], check=True)
    subprocess.run(["createdb", *pg, name], check=True)
    for number in (11, 12):  # this test's own Redis databases: no limits left from a past run
        redis.Redis.from_url(_redis_url(number)).flushdb()
    port = _free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "DATABASE_URL": _database_url(name),
        "REDIS_URL": _redis_url(11),
        "CELERY_BROKER_URL": _redis_url(12),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "FAIRSLOT_VAR_DIR": str(tmp_path / "var"),
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "METRICS_TOKEN": TOKEN,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        # The worker's console prints the SMS: this test reads the code there.
        "SMS_BACKEND": "accounts.sms.ConsoleBackend",
        "ALLOW_CONSOLE_BACKENDS": "1",
        "ALLOWED_HOSTS": "127.0.0.1",
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
    }
    processes, logs = [], {}

    def run(command) -> str:
        done = subprocess.run(
            _executable(command), cwd=ROOT, env=env, timeout=180, capture_output=True
        )
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        return done.stdout.decode()

    def start(role, command):
        log = tmp_path / f"{role}.log"
        logs[role] = log
        processes.append(
            subprocess.Popen(
                _executable(command),
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
        )

    try:
        yield {"run": run, "start": start, "logs": logs, "base": f"http://127.0.0.1:{port}"}
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        subprocess.run(["dropdb", *pg, "--if-exists", "--force", name], check=False)


def _ask(base: str, path: str, body: dict | None = None, headers: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(headers or {})}
    # The stack this test started, on 127.0.0.1 over http.
    request = urllib.request.Request(base + path, data=data, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return None, b""


def _wait(what: str, condition, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def _code_in(log: Path):
    # ConsoleBackend's block: "----- SMS to <masked number> [<dedup key>] -----", then the text.
    text = log.read_text(errors="replace").replace("\\n", "\n")
    codes = re.findall(r"----- SMS to [^\n]*-----\n[^\n]*?(\d{6})", text)
    return codes[-1] if codes else None


def test_smoke_production_stack_registers_an_applicant(stack):
    commands = image_commands()
    base = stack["base"]
    stack["run"](commands["migrate"])
    stack["run"](COLLECTSTATIC)
    stack["run"](["python", "manage.py", "load_demo"])  # two prefectures with open windows
    for role in ("web", "worker", "beat"):
        stack["start"](role, commands[role])
    _wait("the web", lambda: _ask(base, "/healthz")[0] == 200, 60)

    status, body = _ask(base, "/altcha/challenge/")
    challenge = json.loads(body)
    proof = pow.encode_solution(challenge, pow.solve(challenge))
    start = {"window": _window_code(stack), "procedure": "FIRST", **PERSON, "proof": proof}
    status, body = _ask(base, "/api/v1/registrations/", start)
    assert status == 202, body
    token = json.loads(body)["token"]
    code = _wait("the code in the worker's log", lambda: _code_in(stack["logs"]["worker"]), 60)
    verified = _ask(base, "/api/v1/registrations/verify/", {"token": token, "code": code})
    submitted = _ask(base, "/api/v1/registrations/submit/", {"token": token})
    ready = _wait("/readyz", lambda: _ask(base, "/readyz")[0] == 200 and _ask(base, "/readyz"), 90)
    scraped = _ask(base, "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})[1].decode()

    assert verified[0] == 200, verified
    assert submitted[0] == 201, submitted
    assert json.loads(submitted[1])["entry_id"]
    assert json.loads(ready[1])["checks"] == {
        "database": "ok", "migrations": "ok", "worker": "ok", "redis": "ok", "broker": "ok"
    }  # fmt: skip
    assert 'fairslot_codes_sent_total{channel="phone"} 1.0' in scraped

    _confirm_an_offer_by_its_link(stack)
    _check_in_at_the_desk(stack)
    _assert_every_line_is_json(stack["logs"])
    _assert_no_canary_in(stack["logs"], token, code)


class Browser:
    """A cookie-keeping client of the stack, posting forms with their CSRF token."""

    def __init__(self, base: str):
        self.base, self.cookies = base, CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str):
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()

    def post(self, path: str, fields: dict):
        csrf = next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": csrf}).encode()
        with self.opener.open(self.base + path, data=data, timeout=30) as response:
            return response.status, response.read().decode()


def _manage_shell(stack, code: str) -> str:
    return stack["run"](["python", "manage.py", "shell", "-c", code]).strip().splitlines()[-1]


def _confirm_an_offer_by_its_link(stack):
    # Frozen and revealed, its reveal deadline past: the beat's reconciler (every 30 s) has the
    # worker run the draw, and publishes it and sends the offers at its next run.
    stack["run"](["python", "manage.py", "load_demo_offers", "--leave-draw-to-worker"])
    link = _wait(
        "the offer SMS in the worker's log",
        lambda: OFFER_LINK.findall(stack["logs"]["worker"].read_text()),
        150,
    )[0][0]
    browser = Browser(stack["base"])
    page = browser.get(link)[2].decode()
    status, answered = browser.post(link + "accept/", {})
    pdf = browser.get(link + "convocation.pdf")
    state, actor = _manage_shell(
        stack,
        "from accounts.models import AuditEvent; from lottery.models import Draw; "
        "d = Draw.objects.get(window__code='ISERE-DEMO-OFFRES'); print(d.state, AuditEvent."
        "objects.get(action='draw.run', target_id=str(d.pk)).actor_label)",
    ).split()
    worker = _lines(stack["logs"]["worker"])
    tasks = [json.loads(line)["message"] for line in worker if _is_a_json_object(line)]

    assert (state, actor) == ("published", "task_run_draw")  # the worker's task ran the draw
    assert any(
        re.fullmatch(r"Task lottery\.tasks\.task_run_draw\[[\w-]+\] received", t) for t in tasks
    )
    done = r"Task lottery\.tasks\.task_run_draw\[[\w-]+\] succeeded in [\d.]+s: 'drawn'"
    assert any(re.fullmatch(done, task) for task in tasks)
    assert 'lang="ar"' in page and "accept/" in page  # the demo applicant reads Arabic
    assert status == 200 and "convocation.pdf" in answered and "accept/" not in answered
    assert pdf[1] == "application/pdf" and pdf[2].startswith(b"%PDF")


def _check_in_at_the_desk(stack):
    stack["run"](["python", "manage.py", "load_demo_today"])  # today's appointment, confirmed
    code = _manage_shell(
        stack,
        "from booking.checkin_token import make_token; from booking.models import Appointment; "
        "print(make_token(Appointment.objects.get(state='confirmed', "
        "slot__window__code__startswith='ISERE-DEMO-JOUR', entry__contact__isnull=False)))",
    )
    totp = _manage_shell(
        stack,
        "from django_otp.oath import TOTP; "
        "from django_otp.plugins.otp_totp.models import TOTPDevice as D; "
        "d = D.objects.get(user__username='agent.isere'); "
        "print('%06d' % TOTP(d.bin_key, d.step, d.t0, d.digits, d.drift).token())",
    )
    agent = Browser(stack["base"])
    agent.get("/admin/login/?next=/staff/checkin/")
    logged_in = agent.post(
        "/admin/login/?next=/staff/checkin/",
        {"username": "agent.isere", "password": "demo-fairslot-2026", "otp_token": totp},
    )
    identity = agent.post("/staff/checkin/", {"desk": "S1", "code": code})
    present = agent.post("/staff/checkin/present/", {"desk": "S1", "code": code})
    state = _manage_shell(
        stack,
        "from booking.models import Appointment; print(Appointment.objects.get(state__in="
        "['confirmed', 'checked_in'], slot__window__code__startswith='ISERE-DEMO-JOUR', "
        "entry__contact__isnull=False).state)",
    )

    assert logged_in[0] == 200 and identity[0] == 200 and present[0] == 200
    assert "/staff/checkin/present/" in identity[1]  # the identity, and the button to confirm
    assert state == "checked_in"


def _window_code(stack) -> str:
    # The demo's open window of Isère, read as any operator would: from the public home page.
    status, body = _ask(stack["base"], "/")
    codes = re.findall(r"/register/([A-Z0-9-]+)/", body.decode())
    assert status == 200 and codes, body[:500]
    return codes[0]


def _lines(log: Path) -> list[str]:
    """The log's non-empty lines, written whole (a process may be writing the last one)."""
    text = log.read_text(encoding="utf-8")
    return [line for line in text[: text.rfind("\n") + 1].splitlines() if line.strip()]


def _records(log: Path) -> list[dict]:
    return [json.loads(line) for line in _lines(log)]


def _is_a_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _assert_every_line_is_json(logs: dict[str, Path]):
    # Read while the processes still run: on SIGTERM the Celery worker writes one plain line
    # ("worker: Warm shutdown (MainProcess)") straight to its stdout from the signal handler,
    # where logging cannot run.
    not_json = {
        role: [line for line in _lines(log) if not _is_a_json_object(line)]
        for role, log in logs.items()
    }
    web = [record["message"] for record in _records(logs["web"])]

    assert all(_lines(log) for log in logs.values())
    assert not_json == {"web": [], "worker": [], "beat": []}
    assert any(message.startswith("Booting worker with pid") for message in web)  # gunicorn's


def _assert_no_canary_in(logs: dict[str, Path], token: str, code: str):
    # The console SMS backend (development only) writes each SMS's text into the worker's log
    # by design: a developer reads the one-time code and the offer links there. That text is
    # left out of the search, and only it: its header (masked number, dedup key) and every
    # other record are searched.
    searched, secrets = {}, [token]
    for role, log in logs.items():
        records = _records(log)
        for record in records:
            if record["logger"] == "accounts.sms":
                secrets += [found[1] for found in OFFER_LINK.findall(record["message"])]
                record["message"] = SMS_HEADER.search(record["message"])[0]
        searched[role] = json.dumps(records, ensure_ascii=False)
    # A six-digit code could be part of a longer number by chance (a duration, a pid).
    needles = [re.escape(text) for text in CANARIES + secrets] + [rf"(?<!\d){code}(?!\d)"]
    hits = {(role, n) for role, text in searched.items() for n in needles if re.search(n, text)}

    assert len(secrets) >= 3  # the token and the offer links: the search has needles
    assert "SMS to +33 •••• 5678 [outcome:" in searched["worker"]  # the headers are searched
    assert hits == set()
