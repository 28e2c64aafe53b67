"""The staff login (/admin/login/) and staff sessions: one answer for every refusal, lockout by
django-axes, the repeated-failure alert, French pages, and sessions that end on time."""

import html
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.utils import translation
from django_otp.forms import OTPAuthenticationFormMixin
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import otp
from accounts.models import Role
from tests.booking.test_my_entries import _last_code

PASSWORD = "correct horse battery staple"
REFUSAL_FR = "Identifiant, mot de passe ou code incorrect."
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class CountingHasher(PBKDF2PasswordHasher):
    """PBKDF2 with few iterations (fast tests) that counts the hashes it computes."""

    algorithm = "counting_pbkdf2"
    iterations = 1000
    calls = 0

    def encode(self, password, salt, iterations=None):
        CountingHasher.calls += 1
        return super().encode(password, salt, iterations)


@pytest.fixture(autouse=True)
def _counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["tests.accounts.test_staff_login.CountingHasher"]
    CountingHasher.calls = 0


@pytest.fixture
def device(agent):
    return TOTPDevice.objects.create(user=agent, name="phone", confirmed=True)


def current_code(device) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def wrong_code(device) -> str:
    return f"{(int(current_code(device)) + 1) % 10**6:06d}"


def log_in(client, username, password, code="", ip="127.0.0.1"):
    form = {"username": username, "password": password, "otp_token": code, "next": "/admin/"}
    return client.post("/admin/login/", form, REMOTE_ADDR=ip)


def page_without_tokens(response) -> str:
    """The page less what differs between any two responses: CSRF token and CSP nonces."""
    page = response.content.decode()
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "CSRF", page)
    return re.sub(r'nonce="[^"]*"', "NONCE", page)


# --- Log-in, and one answer for every refusal ---------------------------------------------------


def test_staff_login_with_password_and_code_gets_a_new_session_key(client, agent, device):
    before = client.session
    before["language_seen"] = "fr"
    before.save()

    response = log_in(client, agent.username, PASSWORD, current_code(device))

    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.session["_auth_user_id"] == str(agent.pk)
    assert client.session.session_key != before.session_key
    assert SessionStore().exists(before.session_key) is False
    assert client.get("/admin/").status_code == 200


def test_staff_login_wrong_or_missing_code_answers_like_a_wrong_password(agent, device):
    code = wrong_code(device)
    answers = {
        "wrong password": log_in(Client(), agent.username, "not the password", code),
        "wrong code": log_in(Client(), agent.username, PASSWORD, code),
        "no code": log_in(Client(), agent.username, PASSWORD, ""),
    }

    pages = {case: page_without_tokens(response) for case, response in answers.items()}
    statuses = {case: response.status_code for case, response in answers.items()}
    assert statuses == {"wrong password": 200, "wrong code": 200, "no code": 200}
    assert pages["wrong code"] == pages["wrong password"]
    assert pages["no code"] == pages["wrong password"]
    assert pages["wrong password"].count(REFUSAL_FR) == 1
    assert answers["wrong code"].context["form"].non_field_errors() == [REFUSAL_FR]


def test_staff_login_refusals_each_run_the_password_hasher_once(agent, device):
    cases = [
        ("unknown user", "no.such.agent", PASSWORD, wrong_code(device)),
        ("wrong password", agent.username, "not the password", wrong_code(device)),
        ("wrong code", agent.username, PASSWORD, wrong_code(device)),
        ("no code", agent.username, PASSWORD, ""),
    ]
    hashes = {}

    for case, username, password, code in cases:
        CountingHasher.calls = 0
        log_in(Client(), username, password, code)
        hashes[case] = CountingHasher.calls

    assert hashes == {"unknown user": 1, "wrong password": 1, "wrong code": 1, "no code": 1}


def test_staff_login_never_shows_the_password_or_code_back(client, agent, device):
    code = wrong_code(device)

    right_password = log_in(client, agent.username, PASSWORD, code)
    wrong_password = log_in(client, agent.username, "Tr0ub4dor&3-wrong", code)

    assert right_password.content.count(PASSWORD.encode()) == 0
    assert wrong_password.content.count(b"Tr0ub4dor&amp;3-wrong") == 0
    assert wrong_password.content.count(b"Tr0ub4dor&3-wrong") == 0
    assert right_password.content.count(code.encode()) == 0


def test_staff_login_page_is_in_french(client, db):
    page = html.unescape(client.get("/admin/login/").content.decode())

    expected = ["Fairslot — espace agents", "Mot de passe", "Code de l'application", "Se connecter"]
    assert [words for words in expected if words not in page] == []


def test_django_otp_device_message_has_french():
    with translation.override("fr"):
        message = str(OTPAuthenticationFormMixin.otp_error_messages["device_required"])

    assert message == "Veuillez choisir un appareil."


# --- Lockout ------------------------------------------------------------------------------------


def test_five_failures_lock_the_username_from_any_address(client, agent, device):
    failures = [
        log_in(Client(), agent.username, "not the password", ip=f"198.51.100.{n}").status_code
        for n in range(1, 6)
    ]

    locked = log_in(client, agent.username, PASSWORD, current_code(device), ip="203.0.113.7")

    assert failures == [200, 200, 200, 200, 429]
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    page = locked.content.decode()
    assert page.count("attendez 15 minutes, puis réessayez") == 1
    assert page.count(agent.username) == 0


def test_five_failures_lock_the_address_for_any_username(agent, device):
    statuses = [
        log_in(Client(), f"guess{n}", "not the password", ip="198.51.100.9").status_code
        for n in range(5)
    ]

    from_there = log_in(Client(), agent.username, PASSWORD, current_code(device), "198.51.100.9")
    elsewhere = log_in(Client(), agent.username, PASSWORD, current_code(device), "203.0.113.7")

    assert statuses == [200, 200, 200, 200, 429]
    assert from_there.status_code == 429
    assert (elsewhere.status_code, elsewhere["Location"]) == (302, "/admin/")


def test_wrong_codes_count_as_failures(client, agent, device):
    for _ in range(5):
        log_in(Client(), agent.username, PASSWORD, wrong_code(device))

    response = log_in(client, agent.username, PASSWORD, current_code(device))

    assert response.status_code == 429
    assert AccessAttempt.objects.get(username=agent.username).failures_since_start == 6


def test_lockout_ends_after_15_minutes(client, agent, device):
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(5):
            log_in(Client(), agent.username, "not the password")
        clock.shift(timedelta(minutes=15, seconds=1))

        response = log_in(client, agent.username, PASSWORD, current_code(device))

    assert (response.status_code, response["Location"]) == (302, "/admin/")


def test_successful_login_resets_the_failure_count(agent, device):
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(4):
            log_in(Client(), agent.username, "not the password")
        first = log_in(Client(), agent.username, PASSWORD, current_code(device))
        for _ in range(4):
            log_in(Client(), agent.username, "not the password")
        clock.shift(timedelta(minutes=1))  # a TOTP code is good once

        second = log_in(Client(), agent.username, PASSWORD, current_code(device))

    assert [first.status_code, second.status_code] == [302, 302]


def test_public_page_makes_no_axes_query_while_an_address_is_locked_out(
    client, db, django_assert_max_num_queries
):
    statuses = [log_in(client, f"guess{n}", "not the password").status_code for n in range(5)]

    # 4 measured before axes and with it: DSFR's site settings (for the language, then any) and
    # the open and recent windows. No session, no user, no axes table.
    with django_assert_max_num_queries(4) as queries:
        response = client.get("/")

    assert response.status_code == 200
    assert [q["sql"] for q in queries.captured_queries if "axes_" in q["sql"]] == []
    assert statuses == [200, 200, 200, 200, 429]


def test_applicant_code_login_is_not_counted_by_axes(client, db):
    otp.start_login(kind="phone", value="+33612345678", client_ip="127.0.0.1", proof_ok=True)
    client.post("/my/login/", {"contact_kind": "phone", "contact": "0612345678", "have_code": ""})
    code = _last_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(2):
        client.post("/my/code/", {"code": wrong})

    response = client.post("/my/code/", {"code": code})

    assert (response.status_code, response["Location"]) == (302, "/my/")
    assert (AccessAttempt.objects.count(), AccessFailureLog.objects.count()) == (0, 0)
    assert client.get("/my/").status_code == 200


# --- Alert on repeated failures -----------------------------------------------------------------


def security_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "fairslot.security"]


def test_alert_once_when_a_username_reaches_20_failures_in_24_hours(caplog, agent, device):
    caplog.set_level(logging.INFO)
    with time_machine.travel(T0, tick=False) as clock:
        for n in range(19):
            log_in(Client(), agent.username, f"guess-{n}", ip=f"198.51.100.{n + 1}")
            clock.shift(timedelta(minutes=30))
        after_19 = security_lines(caplog)
        log_in(Client(), agent.username, "guess-19", ip="203.0.113.7")
        after_20 = security_lines(caplog)

        log_in(Client(), agent.username, "guess-20", ip="203.0.113.7")

    alert = "staff login: 20 failed attempts in 24 hours for username 'alice.agent'"
    assert (after_19, after_20) == ([], [alert])
    assert security_lines(caplog) == [alert]
    assert [r.levelname for r in caplog.records if r.name == "fairslot.security"] == ["WARNING"]
    assert caplog.text.count("guess-") == 0


def test_alert_counts_only_the_last_24_hours(caplog, agent):
    caplog.set_level(logging.WARNING)
    with time_machine.travel(T0, tick=False) as clock:
        for n in range(19):
            log_in(Client(), agent.username, "not the password", ip=f"198.51.100.{n + 1}")
        clock.shift(timedelta(hours=24, minutes=1))

        log_in(Client(), agent.username, "not the password", ip="203.0.113.7")

    assert security_lines(caplog) == []


def test_alert_names_an_unknown_username_only_by_its_keyed_hash(caplog, db):
    caplog.set_level(logging.WARNING)
    typed = "my-Secret-passw0rd"

    for n in range(20):
        log_in(Client(), typed, "not the password", ip=f"198.51.100.{n + 1}")

    lines = security_lines(caplog)
    assert len(lines) == 1
    assert lines[0].startswith("staff login: 20 failed attempts in 24 hours for unknown username")
    assert caplog.text.count(typed) == 0


# --- Staff sessions -----------------------------------------------------------------------------


def test_staff_session_ends_after_30_idle_minutes(login_otp, agent):
    with time_machine.travel(T0, tick=False) as clock:
        client = login_otp(agent)
        clock.shift(timedelta(minutes=29))
        active = client.get("/admin/")
        clock.shift(timedelta(minutes=30, seconds=1))

        idle = client.get("/admin/")

    assert active.status_code == 200
    assert (idle.status_code, idle["Location"]) == (302, "/admin/login/?next=/admin/")
    assert "_auth_user_id" not in client.session


def test_staff_session_idle_time_comes_from_settings(settings, login_otp, agent):
    settings.STAFF_SESSION_IDLE_SECONDS = 120
    with time_machine.travel(T0, tick=False) as clock:
        client = login_otp(agent)
        clock.shift(timedelta(seconds=121))

        response = client.get("/admin/")

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_staff_session_ends_after_12_hours_even_when_active(login_otp, agent):
    statuses = []
    with time_machine.travel(T0, tick=False) as clock:
        client = login_otp(agent)
        for _ in range(29):  # a request every 25 minutes: 11 h 40 min, then 12 h 05 min
            clock.shift(timedelta(minutes=25))
            statuses.append(client.get("/admin/").status_code)

    assert statuses == [200] * 28 + [302]
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "change", [{"is_active": False}, {"role": Role.NONE}], ids=["disabled", "role removed"]
)
def test_staff_session_ends_at_the_next_request_when_access_is_withdrawn(login_otp, agent, change):
    client = login_otp(agent)
    before = client.get("/admin/")
    for field, value in change.items():
        setattr(agent, field, value)
    agent.save()

    after = client.get("/admin/")

    assert before.status_code == 200
    assert (after.status_code, after["Location"]) == (302, "/admin/login/?next=/admin/")
    assert "_auth_user_id" not in client.session
