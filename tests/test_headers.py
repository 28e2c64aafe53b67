"""Security headers on 20 routes, error pages included (issue 20): a Content-Security-Policy
(Django's own), nosniff, a Referrer-Policy, no framing, HSTS in production, and no-store on
the pages that show a person's own data."""

import pytest
from django.test import Client

from booking import receipts
from tests.factories import EntryFactory

pytestmark = pytest.mark.django_db

# (route, whether it shows a person's own data and must not be stored by any cache)
ROUTES = [
    ("/", False),
    ("/accessibilite/", False),
    ("/draws/", False),
    ("/draws/?page=999999999999", False),
    ("/draws/how-to-check/", False),
    ("/draws/feed.atom", False),
    ("/draws/spec.md", False),
    ("/api/v1/draws/", False),
    ("/api/v1/draws/NO-SUCH-DRAW/", False),  # the API's 404
    ("/api/schema/", False),
    ("/api/docs/", False),
    ("/healthz", False),
    ("/no-such-page/", False),  # the 404 page
    ("/draws/ISERE%00/", False),  # the 400 page (NUL byte)
    ("/admin/login/", False),  # the staff login
    ("/register/{window}/", False),
    ("/my/", True),
    ("/my/login/", True),
    ("/receipt/{receipt}/", True),
    ("/receipt/check/", True),
]


@pytest.fixture
def applicant_client():
    """A client, and the values of the routes' placeholders: a window and a receipt."""
    entry = EntryFactory()
    client = Client(raise_request_exception=False)
    return client, {"window": entry.window.code, "receipt": receipts.receipt_token(entry)}


def test_twenty_routes_are_listed():
    assert len(ROUTES) == 20


@pytest.mark.parametrize(("route", "personal"), ROUTES)
def test_every_answer_carries_the_security_headers(settings, applicant_client, route, personal):
    # Arrange: production settings (not DEBUG, HSTS) over HTTPS
    settings.DEBUG = False
    settings.SECURE_HSTS_SECONDS = 31536000
    client, values = applicant_client
    url = route.format(**values)

    # Act
    response = client.get(url, secure=True)

    # Assert
    assert response.status_code < 500, url
    csp = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp, url
    assert response.headers.get("X-Content-Type-Options") == "nosniff", url
    assert response.headers.get("Referrer-Policy") == "same-origin", url
    assert response.headers.get("X-Frame-Options") == "DENY" or "frame-ancestors 'none'" in csp
    assert response.headers.get("Strict-Transport-Security", "").startswith("max-age=31536000")
    if personal:
        assert "no-store" in response.headers.get("Cache-Control", ""), url
