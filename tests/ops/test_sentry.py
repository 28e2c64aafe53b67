"""Sentry is optional (SENTRY_DSN) and a report carries no personal data (issue 20). Each case
runs in a process of its own: starting Sentry patches Django for the whole process."""

import os
import subprocess
import sys

from django.conf import settings

from config.sentry import scrub

CANARY = "Zyxcanarowski"

# A crashing view, reached with the canary in the query string, body, cookie and a header;
# prints what Sentry would have sent.
CRASH = f"""
import django, sentry_sdk
from sentry_sdk.transport import Transport
django.setup()
from booking import views

def crash(request):
    raise RuntimeError("crash")

views.home = crash  # before the URLconf is first read
sent = []

class Capture(Transport):
    def capture_envelope(self, envelope):
        sent.append(envelope.serialize().decode())

from config.sentry import options
sentry_sdk.init(
    **options(dsn="https://key@sentry.invalid/1", environment="test", release=""),
    transport=Capture,
)
from django.test import Client
client = Client(raise_request_exception=False)
client.cookies["theme"] = "{CANARY}-cookie"
status = client.post(
    "/?q={CANARY}-query", {{"family_name": "{CANARY}-body"}}, HTTP_X_NAME="{CANARY}-header"
).status_code
sentry_sdk.flush()
print(status, len(sent))
print("\\n".join(sent))
"""


def _python(code: str, **env_changes) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1"}
    env.update(env_changes)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_scrub_keeps_no_request_data_user_or_breadcrumbs():
    # Arrange: an event as the Django integration builds it
    event = {
        "exception": {"values": [{"type": "RuntimeError", "value": "crash"}]},
        "request": {
            "method": "POST",
            "url": f"https://fairslot.example/receipt/{CANARY}/",
            "query_string": f"q={CANARY}",
            "data": {"family_name": CANARY},
            "cookies": {"sessionid": CANARY},
            "headers": {"X-Name": CANARY},
            "env": {"REMOTE_ADDR": "203.0.113.9"},
        },
        "user": {"id": 1, "ip_address": "203.0.113.9"},
        "breadcrumbs": {"values": [{"message": f"Not Found: /receipt/{CANARY}/"}]},
        "server_name": "web-1",
    }

    # Act
    scrubbed = scrub(event, {})

    # Assert
    assert scrubbed["request"] == {"method": "POST"}
    assert CANARY not in repr(scrubbed) and "203.0.113.9" not in repr(scrubbed)
    assert scrubbed["exception"]["values"][0]["type"] == "RuntimeError"


def test_without_sentry_dsn_sentry_is_not_started():
    # Act
    result = _python(
        "import django, sentry_sdk; django.setup(); print(sentry_sdk.is_initialized())"
    )

    # Assert
    assert result.stdout.split() == ["False"], result.stderr


def test_with_sentry_dsn_sentry_starts_without_personal_data():
    # Arrange
    code = (
        "import django, sentry_sdk; django.setup(); o = sentry_sdk.get_client().options; "
        "print(sentry_sdk.is_initialized(), o['send_default_pii'], "
        "o['include_local_variables'], o['max_request_body_size'], o['before_send'].__name__)"
    )

    # Act
    result = _python(code, SENTRY_DSN="https://key@sentry.invalid/1")

    # Assert
    assert result.stdout.split() == ["True", "False", "False", "never", "scrub"], result.stderr


def test_a_crash_report_carries_the_exception_but_no_request_data(tmp_path):
    # Act: on a database of its own, which the crashing request never reaches
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = _python(CRASH, DATABASE_URL=database, ALLOWED_HOSTS="testserver")

    # Assert
    first, _, reports = result.stdout.partition("\n")
    assert first == "500 1", result.stderr
    assert '"type":"RuntimeError"' in reports.replace(" ", "")
    assert CANARY not in reports
