"""Shared fixtures: personas, and the rule for tests that need real services.

A test marked `postgres` or `redis` runs against the real service, and one marked `browser`
drives Debian's Chromium; without them the test is skipped with the reason shown, except under
CI (CI=true), where it fails: CI must never pass by skipping the concurrency or browser tests.
"""

import contextvars
import importlib.util
import os
import threading
from pathlib import Path

import pytest
from django.db import connection, connections
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role
from tests.factories import (
    ContactFactory,
    PersonFactory,
    PrefectureFactory,
    StaffFactory,
    WindowFactory,
)

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Debian's package: Playwright never downloads a browser of its own here.
CHROMIUM = Path("/usr/bin/chromium")


def _missing(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: skipping is not allowed)", pytrace=False)
    pytest.skip(reason)


def redis_available() -> bool:
    url = os.environ.get("REDIS_URL")
    if not url:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def browser_available() -> bool:
    return CHROMIUM.exists() and importlib.util.find_spec("playwright") is not None


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing("needs PostgreSQL: set DATABASE_URL=postgres://... (see .ci/run)")
    if item.get_closest_marker("redis") and not redis_available():
        _missing("needs Redis: set REDIS_URL=redis://... (see .ci/run)")
    if item.get_closest_marker("browser") and not browser_available():
        _missing(f"needs Chromium at {CHROMIUM} and playwright: apt-get install chromium")


def run_concurrently(*functions, timeout: float = 30):
    """Run each function in its own thread (own DB connection), released together by a barrier.

    Returns a list of (result, exception) in the order given.
    """
    barrier = threading.Barrier(len(functions))
    outcomes = [None] * len(functions)

    def runner(index, function):
        try:
            barrier.wait(timeout)
            outcomes[index] = (function(), None)
        except Exception as exc:  # collected for the test to assert on
            outcomes[index] = (None, exc)
        finally:
            connections.close_all()

    # Each thread runs in a copy of this context: the audit actor the test set goes along.
    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(runner, i, f))
        for i, f in enumerate(functions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return outcomes


# --- Personas ---------------------------------------------------------------------------------


@pytest.fixture
def prefecture(db):
    return PrefectureFactory(code="ISERE", name="Préfecture de l'Isère")


@pytest.fixture
def other_prefecture(db):
    return PrefectureFactory(code="RHONE", name="Préfecture du Rhône")


@pytest.fixture
def window(prefecture):
    return WindowFactory(prefecture=prefecture)


@pytest.fixture
def applicant(db):
    """An applicant: a verified identity and contact (no staff account)."""
    return PersonFactory(), ContactFactory()


@pytest.fixture
def second_applicant(db):
    return PersonFactory(), ContactFactory()


@pytest.fixture
def agent(prefecture):
    return StaffFactory(username="alice.agent", role=Role.AGENT, prefecture=prefecture)


@pytest.fixture
def other_agent(other_prefecture):
    return StaffFactory(username="bob.agent", role=Role.AGENT, prefecture=other_prefecture)


@pytest.fixture
def supervisor(prefecture):
    return StaffFactory(username="sam.supervisor", role=Role.SUPERVISOR, prefecture=prefecture)


@pytest.fixture
def auditor(prefecture):
    return StaffFactory(username="aude.auditor", role=Role.AUDITOR, prefecture=prefecture)


@pytest.fixture
def anonymous(client):
    return client


@pytest.fixture
def login_otp(client):
    """Log a staff user in with a verified TOTP device, as the OTP admin login would."""

    def login(user):
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        client.force_login(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return client

    return login


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Tests do not run collectstatic; the manifest storage is exercised by `make check`.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_AUTOREFRESH = True


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # Rate-limit counts live in the limiter's own store (process memory, or Redis under
    # REDIS_URL), not in the Django cache: each test starts with none counted.
    from accounts import ratelimit

    ratelimit.reset()


@pytest.fixture(autouse=True)
def _audit_actor():
    # Services called straight from a test, as a task would call them, name this actor in
    # their audit rows (tests/accounts/test_audit.py checks that a row never lacks one).
    from accounts import audit

    with audit.acting_as("pytest"):
        yield
