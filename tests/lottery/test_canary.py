"""No plaintext identity at rest or in the logs (issue 20): a canary person registers through
the API and is drawn on a tiny window; then a dump of the whole database (pg_dump) and every log
line written meanwhile (caplog at DEBUG, the JSON formatter's output, the console) are searched
for the canary's name, identity number and phone: 0 hits."""

import io
import logging
import re
import subprocess
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts import outbox
from accounts.models import OutboxMessage
from booking.models import Entry, Window
from config.logs import JsonFormatter
from tests.answers import form_answers, solved_proof

CANARY = {
    "family_name": "Zyxcanarowski",
    "given_names": "Quillonette",
    "identifier": "7598765431",
    "contact": "0698765431",
}
# Every plaintext form the canary could take: as typed, normalised, E.164 and national.
NEEDLES = [
    "Zyxcanarowski",
    "zyxcanarowski",
    "ZYXCANAROWSKI",
    "Quillonette",
    "7598765431",
    "75 9876 5431",
    "+33698765431",
    "33698765431",
    "0698765431",
    "06 98 76 54 31",
    "698765431",
]


@pytest.fixture
def every_log_line(caplog):
    """caplog at DEBUG, and a JSON formatter on the root logger and on every logger that does
    not propagate to it; returns a function that reads everything written."""
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in loggers:
        logger.addHandler(handler)
    yield lambda: caplog.text + stream.getvalue()
    for logger in loggers:
        logger.removeHandler(handler)


def _dump() -> str:
    db = connection.settings_dict
    command = ["pg_dump", "--no-owner", "-d", db["NAME"], "-U", db["USER"] or "postgres"]
    command += ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432)]
    env = {"PGPASSWORD": db["PASSWORD"] or "", "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout


def _register_canary(client, window) -> None:
    started = client.post(
        "/api/v1/registrations/",
        {**form_answers(window, **CANARY), "window": window.code, "proof": solved_proof()},
        content_type="application/json",
    )
    assert started.status_code == 202, started.content
    token = started.json()["token"]
    message = OutboxMessage.objects.filter(dedup_key__startswith="otp:").latest("id")
    code = re.search(r"\b(\d{6})\b", message.body).group(1)
    verified = client.post(
        "/api/v1/registrations/verify/", {"token": token, "code": code}, "application/json"
    )
    submitted = client.post("/api/v1/registrations/submit/", {"token": token}, "application/json")
    assert (verified.status_code, submitted.status_code) == (200, 201), submitted.content


@pytest.mark.postgres
def test_canary_identity_appears_nowhere_in_a_database_dump_or_the_logs(
    transactional_db, client, timeline, settings, capsys, every_log_line
):
    # Arrange: a tiny window, still open, with the canary registered through the API
    settings.SMS_BACKEND = "accounts.sms.OutboxOnlyBackend"
    life = timeline(entries=5, slots=3, closes_at=timezone.now() + timedelta(days=1))
    _register_canary(client, life.window)
    outbox.deliver_pending()
    closes = timezone.now() - timedelta(days=2)
    Window.objects.filter(pk=life.window_id).update(
        closes_at=closes, freeze_at=closes, reveal_deadline=closes + timedelta(days=1)
    )
    life.window.refresh_from_db()

    # Act: the draw, then what an attacker holding a backup and the logs would read
    outcome = life.run_all()
    outbox.deliver_pending()
    dump = _dump()
    logs = every_log_line() + "".join(capsys.readouterr())

    # Assert
    assert outcome == "drawn"
    assert Entry.objects.filter(window=life.window).count() == 6  # the canary was drawn too
    assert "COPY public.booking_entry" in dump  # a real dump, with the data
    assert {needle: needle in dump for needle in NEEDLES} == dict.fromkeys(NEEDLES, False)
    assert {needle: needle in logs for needle in NEEDLES} == dict.fromkeys(NEEDLES, False)
