"""Pluggable SMS backends. The provider follows public procurement and will change, so the
interface is one method: `send(to, body, dedup_key)`, raising `SmsError` on failure."""

import json
import logging
import urllib.request

import phonenumbers
from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsError(Exception):
    pass


class BaseBackend:
    def send(self, *, to: str, body: str, dedup_key: str) -> None:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    """Development backend: writes the message to the log of the process that sends it (the
    worker's), as one record of this module's logger, so that under LOG_FORMAT=json it is one
    JSON line like every other. Never in production: its text holds the one-time code and the
    signed links, which is exactly what logs must not hold (config.settings refuses it without
    DEBUG or ALLOW_CONSOLE_BACKENDS). The number is masked: the developer knows the one they
    typed, and the log keeps no contact."""

    def send(self, *, to: str, body: str, dedup_key: str) -> None:
        logger.info("\n----- SMS to %s [%s] -----\n%s\n-----", masked(to), dedup_key, body)


def masked(number: str) -> str:
    """The country code and the last four digits: +33698765432 gives "+33 •••• 5432"."""
    try:
        country = f"+{phonenumbers.parse(number).country_code} "
    except phonenumbers.NumberParseException:
        country = ""
    return f"{country}•••• {number[-4:]}"


class OutboxOnlyBackend(BaseBackend):
    """Test backend: records what was sent in memory."""

    sent: list[dict] = []

    def send(self, *, to: str, body: str, dedup_key: str) -> None:
        type(self).sent.append({"to": to, "body": body, "dedup_key": dedup_key})


class HttpGatewayBackend(BaseBackend):
    """POSTs JSON to SMS_GATEWAY_URL with a bearer token; the dedup key goes as Idempotency-Key."""

    timeout = 10

    def send(self, *, to: str, body: str, dedup_key: str) -> None:
        if not settings.SMS_GATEWAY_URL:
            raise SmsError("SMS_GATEWAY_URL is not set")
        # The URL comes from settings and is checked to be http(s) there (config.env.env_url).
        request = urllib.request.Request(  # noqa: S310
            settings.SMS_GATEWAY_URL,
            data=json.dumps({"to": to, "text": body}).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {settings.SMS_GATEWAY_TOKEN}",
                "Idempotency-Key": dedup_key,
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                if response.status >= 300:
                    raise SmsError(f"gateway answered {response.status}")
        except OSError as exc:
            raise SmsError(f"gateway unreachable: {exc.__class__.__name__}") from None


def get_backend() -> BaseBackend:
    return import_string(settings.SMS_BACKEND)()
