"""Signed links to one offer, sent in the offer's message: the person answers without a new
one-time code (locked out of codes, or on a phone slow to receive them).

A link is `/o/<appointment pk in base 36>.<MAC>`: nothing personal in it, short enough for an
SMS. The MAC (HMAC-SHA256 under SECRET_KEY, or a fallback key, cut to MAC_BYTES) covers the
appointment and its answer deadline, so a link is good for that offer only and expires with
it: after `respond_by` it opens nothing (the person logs in with a code instead). A forged,
mistyped or expired link gets the same "not valid" page, whatever the appointment.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from booking.models import Appointment

SALT = "fairslot.offer-link"
ALGORITHM = "sha256"
# 72 bits: online guessing is hopeless, and the link stays short enough for one SMS part.
MAC_BYTES = 9
BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def make(appointment: Appointment) -> str:
    """The link token of `appointment` (an offer with a deadline)."""
    return f"{_base36(appointment.pk)}.{_macs(appointment)[0]}"


def url(appointment: Appointment) -> str:
    """The absolute address of the offer's page, for a message."""
    return settings.SITE_URL + reverse("offer", args=[make(appointment)])


def read(token: str, now) -> Appointment | None:
    """The appointment of a genuine, unexpired link, or None."""
    pk_text, _dot, mac = (token or "").partition(".")
    if not pk_text or len(pk_text) > 7 or any(char not in BASE36 for char in pk_text):
        return None
    appointment = (
        Appointment.objects.select_related(
            "entry__contact", "slot__site", "slot__procedure", "slot__window__prefecture"
        )
        .filter(pk=int(pk_text, 36))
        .first()
    )
    if appointment is None or appointment.respond_by is None:
        return None
    if not any(constant_time_compare(mac, expected) for expected in _macs(appointment)):
        return None
    if now >= appointment.respond_by:
        return None
    return appointment


def _macs(appointment: Appointment) -> list[str]:
    """The appointment's MAC under the current key, then under each fallback key."""
    signer = signing.Signer(salt=SALT, algorithm=ALGORITHM)
    deadline = appointment.respond_by.isoformat() if appointment.respond_by else ""
    value = f"{appointment.pk}:{deadline}"
    cut = (MAC_BYTES * 4) // 3  # base64 characters of MAC_BYTES bytes
    return [signer.signature(value, key)[:cut] for key in [signer.key, *signer.fallback_keys]]


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = BASE36[digit] + digits
        if not number:
            return digits
