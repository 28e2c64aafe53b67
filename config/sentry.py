"""Optional error reports to Sentry (SENTRY_DSN), with personal data kept out.

What a report may carry: the exception's type, message and stack (without local variables), the
route pattern, the release and the environment. What it never carries: the request's body,
cookies, headers, query string or URL (a receipt's URL is its token), the user, the server's
name, or log lines (ours go to the JSON log stream, and Django's name request paths)."""

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration

# The only fields of an event's "request" kept: nothing there identifies a person.
KEPT_REQUEST_FIELDS = ("method",)


def scrub(event: dict, hint: dict) -> dict:
    """before_send: the last word on what leaves, whatever an integration added."""
    request = event.get("request")
    if request is not None:
        event["request"] = {key: request[key] for key in KEPT_REQUEST_FIELDS if key in request}
    for field in ("user", "server_name", "breadcrumbs", "extra"):
        event.pop(field, None)
    return event


def options(*, dsn: str, environment: str, release: str) -> dict:
    return {
        "dsn": dsn,
        "environment": environment,
        "release": release or None,
        "send_default_pii": False,
        "include_local_variables": False,
        "max_request_body_size": "never",
        "traces_sample_rate": 0.0,
        "before_send": scrub,
        # Log records neither become events nor breadcrumbs: see the module's docstring.
        "default_integrations": True,
        "integrations": [
            DjangoIntegration(transaction_style="url"),
            CeleryIntegration(),
            LoggingIntegration(level=None, event_level=None),
        ],
    }


def start(*, dsn: str, environment: str, release: str) -> None:
    sentry_sdk.init(**options(dsn=dsn, environment=environment, release=release))
