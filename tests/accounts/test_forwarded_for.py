"""Forged X-Forwarded-For headers neither evade nor reset rate limits (issue 20): the address a
limit counts is REMOTE_ADDR without a trusted proxy, and with N proxies only the hop the
nearest trusted proxy appended, whatever the client wrote before it."""

import pytest
from django.test import RequestFactory

from accounts import otp
from accounts.models import ContactKind
from booking.web import client_ip
from config.errors import Throttled

pytestmark = pytest.mark.django_db


def _send_from_rotating_forgeries(request_for, count: int) -> list[str]:
    """Ask for `count` codes, each to a new address and with a new forged X-Forwarded-For;
    return the address each was counted under, or "refused"."""
    outcomes = []
    for n in range(count):
        request = request_for(forged=f"198.51.100.{n % 250}, 10.{n // 250}.0.{n % 250}")
        try:
            otp.check_send_limits(
                kind=ContactKind.EMAIL,
                value=f"person{n}@example.org",
                client_ip=client_ip(request),
                proof_ok=False,
            )
        except Throttled:
            outcomes.append("refused")
        else:
            outcomes.append(client_ip(request))
    return outcomes


def test_without_a_trusted_proxy_a_rotating_forged_header_still_counts_the_peer(settings):
    # Arrange
    settings.TRUSTED_PROXY_COUNT = 0
    factory = RequestFactory()

    def request_for(forged):
        return factory.get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=forged)

    # Act
    outcomes = _send_from_rotating_forgeries(request_for, otp.IP_LIMIT_WITHOUT_PROOF + 5)

    # Assert: every request was counted under the peer's address, and the limit held
    allowed = outcomes[: otp.IP_LIMIT_WITHOUT_PROOF]
    assert set(allowed) == {"203.0.113.9"}
    assert outcomes[otp.IP_LIMIT_WITHOUT_PROOF :] == ["refused"] * 5


def test_behind_one_proxy_only_the_hop_it_appended_counts(settings):
    # Arrange: the proxy (10.0.0.2) appends the address it saw to what the client sent
    settings.TRUSTED_PROXY_COUNT = 1
    factory = RequestFactory()

    def request_for(forged):
        return factory.get(
            "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"{forged}, 203.0.113.9"
        )

    # Act
    outcomes = _send_from_rotating_forgeries(request_for, otp.IP_LIMIT_WITHOUT_PROOF + 5)

    # Assert
    allowed = outcomes[: otp.IP_LIMIT_WITHOUT_PROOF]
    assert set(allowed) == {"203.0.113.9"}
    assert outcomes[otp.IP_LIMIT_WITHOUT_PROOF :] == ["refused"] * 5


def test_behind_one_proxy_two_clients_are_counted_apart_and_a_forgery_cannot_reset(settings):
    # Arrange: a first client used its whole allowance
    settings.TRUSTED_PROXY_COUNT = 1
    factory = RequestFactory()

    def request_from(client, forged=""):
        header = f"{forged}, {client}" if forged else client
        return factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=header)

    for n in range(otp.IP_LIMIT_WITHOUT_PROOF):
        otp.check_send_limits(
            kind=ContactKind.EMAIL,
            value=f"first{n}@example.org",
            client_ip=client_ip(request_from("203.0.113.9")),
            proof_ok=False,
        )

    # Act: the first client claims to be the second; the second asks for itself
    def send(request, value):
        try:
            otp.check_send_limits(
                kind=ContactKind.EMAIL, value=value, client_ip=client_ip(request), proof_ok=False
            )
        except Throttled:
            return "refused"
        return "sent"

    forged = send(request_from("203.0.113.9", forged="203.0.113.77"), "forged@example.org")
    other = send(request_from("203.0.113.77"), "other@example.org")

    # Assert
    assert forged == "refused"
    assert other == "sent"
