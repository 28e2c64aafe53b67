"""A live server that serves the static files as production does.

pytest-django's `live_server` serves static files from the app folders through Django's own
handler: uncompressed, unfingerprinted, without cache headers, so a page measured there weighs
what no real phone ever downloads. `production_server` instead collects them once per session
(compressed, with fingerprinted names: config.staticfiles) and lets WhiteNoise serve them, with
its one-year cache headers, from a server thread without that handler.
"""

import pytest
from django.core.management import call_command
from django.test.utils import override_settings
from pytest_django.live_server_helper import LiveServer

FINGERPRINTED = {"BACKEND": "config.staticfiles.FingerprintedStaticFilesStorage"}

# Packages and DSFR parts the applicant pages never load: left out so that collecting takes
# seconds, not the two minutes of the whole DSFR (the pages would fail loudly, the manifest
# being strict, if one of them asked for a file left out here).
NOT_COLLECTED = [
    *("admin", "rest_framework", "drf_spectacular_sidecar", "django-dsfr", "django_otp"),
    *("otp_totp", "css", "js", "component", "core", "layout", "utility", "legacy"),
    *("analytics", "scheme", "artwork", "pictograms", "dsfr/dist/dsfr*", "*.woff", "*.map"),
]


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory):
    root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=root, STORAGES={"staticfiles": FINGERPRINTED}):
        ignored = [f"--ignore={pattern}" for pattern in NOT_COLLECTED]
        call_command("collectstatic", "--no-input", "-v0", *ignored)
    return root


@pytest.fixture(scope="session")
def _production_server(collected_static):
    # WhiteNoise reads its settings once, when the server thread builds the middleware.
    with override_settings(
        STATIC_ROOT=collected_static,
        STORAGES={"staticfiles": FINGERPRINTED},
        WHITENOISE_AUTOREFRESH=False,
        WHITENOISE_USE_FINDERS=False,
    ):
        server = LiveServer("localhost", start=False)
        server.thread.static_handler = lambda application: application  # no static shortcut
        server.start()
    yield server
    server.stop()


@pytest.fixture
def production_server(request, settings, collected_static, transactional_db):
    """The URL of a live server whose static files are served by WhiteNoise, collected.

    Started once, like pytest-django's live_server, after the test database exists (an
    in-memory SQLite database is shared with the server's thread only then)."""
    settings.STATIC_ROOT = collected_static
    settings.STORAGES = {**settings.STORAGES, "staticfiles": FINGERPRINTED}
    return request.getfixturevalue("_production_server").url
