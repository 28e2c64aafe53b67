"""A misconfigured production start is refused, with a message naming the variable."""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks

from accounts.models import User
from ops.checks import TAG
from tests.factories import ContactFactory, PersonFactory

ROOT = settings.BASE_DIR
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "s" * 40,
    "ALLOW_CONSOLE_BACKENDS": "0",
    "SMS_BACKEND": "accounts.sms.HttpGatewayBackend",
    "SMS_GATEWAY_URL": "https://sms.example.gouv.fr/send",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
}


def _start(command: list[str], timeout: float = 60, **env_changes) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SMS_BACKEND", "EMAIL_BACKEND"}}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", **PRODUCTION})
    env.update({k: v for k, v in env_changes.items() if v is not None})
    for name in [k for k, v in env_changes.items() if v is None]:
        env.pop(name, None)
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _django(**env_changes) -> subprocess.CompletedProcess:
    return _start([sys.executable, "-c", "import django; django.setup()"], **env_changes)


def test_start_without_debug_refuses_the_console_sms_backend():
    result = _django(SMS_BACKEND=None)

    assert result.returncode != 0
    assert "SMS_BACKEND is the console backend" in result.stderr
    assert "ALLOW_CONSOLE_BACKENDS=1" in result.stderr


def test_start_without_debug_refuses_the_console_email_backend():
    result = _django(EMAIL_BACKEND=None)

    assert result.returncode != 0
    assert "EMAIL_BACKEND is the console backend" in result.stderr


def test_start_allows_console_backends_when_asked_or_in_debug():
    allowed = _django(SMS_BACKEND=None, EMAIL_BACKEND=None, ALLOW_CONSOLE_BACKENDS="1")
    debug = _django(SMS_BACKEND=None, EMAIL_BACKEND=None, DEBUG="1")

    assert (allowed.returncode, debug.returncode) == (0, 0), allowed.stderr + debug.stderr


def test_start_refuses_the_sms_gateway_without_its_url():
    result = _django(SMS_GATEWAY_URL=None)

    assert result.returncode != 0
    assert "SMS_GATEWAY_URL is required" in result.stderr


def test_start_refuses_a_junk_log_format():
    result = _django(LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "LOG_FORMAT must be plain or json" in result.stderr


# --- Encryption keys that cannot read the data ---------------------------------------------------


def _start_errors() -> list[checks.CheckMessage]:
    found = checks.run_checks(tags=[TAG], include_deployment_checks=True)
    return [message for message in found if message.level >= checks.ERROR]


@pytest.mark.django_db
def test_start_checks_pass_when_the_keys_read_the_data():
    PersonFactory()
    ContactFactory(user=User.objects.create_user("canary"))

    assert _start_errors() == []


@pytest.mark.django_db
def test_start_checks_refuse_keys_that_cannot_read_a_stored_row(settings):
    PersonFactory()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    errors = _start_errors()

    assert [error.id for error in errors] == ["ops.E002"]
    assert errors[0].msg.startswith("FIELD_ENCRYPTION_KEYS cannot read a stored Person.")


@pytest.mark.django_db
def test_start_checks_accept_a_new_key_put_first_before_rotation(settings):
    PersonFactory()
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS]

    assert _start_errors() == []


# --- Redis that evicts keys ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def evicting_redis(tmp_path):
    """A Redis of this test's own whose maxmemory-policy is allkeys-lru."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("needs the redis-server program")
    port = _free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--maxmemory-policy", "allkeys-lru", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


EVICTION_REFUSAL = "REDIS_URL points to a Redis whose maxmemory-policy is 'allkeys-lru'"


@pytest.mark.redis
def test_web_process_refuses_to_start_on_a_redis_that_evicts(evicting_redis, tmp_path):
    result = _start(
        [sys.executable, "-c", "import config.wsgi"],
        REDIS_URL=evicting_redis,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )

    assert result.returncode != 0
    assert EVICTION_REFUSAL in result.stderr


@pytest.mark.redis
def test_worker_refuses_to_start_on_a_redis_that_evicts(evicting_redis, tmp_path):
    celery = str(settings.BASE_DIR / ".venv" / "bin" / "celery")
    if not os.path.exists(celery):
        celery = shutil.which("celery")

    result = _start(
        [celery, "-A", "config", "worker", "--pool=solo", "--without-mingle", "--without-gossip"],
        REDIS_URL=evicting_redis,
        CELERY_BROKER_URL=evicting_redis.replace("/0", "/1"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )

    assert result.returncode != 0
    assert EVICTION_REFUSAL in result.stderr
