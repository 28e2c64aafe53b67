from datetime import timedelta

from django.utils import timezone

from booking.models import WindowState
from tests.factories import WindowFactory


def test_home_lists_open_windows_only(anonymous, window):
    now = timezone.now()
    WindowFactory(title="Not yet", state=WindowState.SCHEDULED, opens_at=now + timedelta(days=1))

    response = anonymous.get("/")

    assert response.status_code == 200
    assert list(response.context["open_windows"]) == [window]
    assert b"Not yet" not in response.content


def test_home_has_strict_security_headers(anonymous, db):
    response = anonymous.get("/")

    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_openapi_schema_is_valid_without_warnings(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    text = target.read_text()
    assert "/api/v1/registrations/" in text
    assert "/api/v1/draws/{code}/" in text
