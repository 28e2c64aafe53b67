"""The check-in code of an appointment: printed on the convocation as text and as a QR code,
typed or scanned at the desk (booking.checkin), and read here.

The code carries the appointment's pk and its prefecture's pk, nothing about the person, and
an HMAC-SHA-256 over both made by `django.core.signing` with a salt of its own (SECRET_KEY, and
SECRET_KEY_FALLBACKS while keys rotate). The algorithm is not in the code: its first byte is a
version, and each known version names one algorithm (an allowlist of one), so a code cannot ask
for a weaker one. The signature is cut to 64 bits: a code is checked only by staff at a desk,
one at a time, so guessing one is out of reach, and the whole code stays short enough to type:
15 bytes in Crockford's base32, 24 characters in six groups of four (`7K3M-9QX2-...`), letters
and digits only, read the same whatever the case, O as 0, I and L as 1. A QR code holds it in
alphanumeric mode.

It is valid on the appointment's day (Europe/Paris) only, for a confirmed appointment of the
reader's prefecture, and it checks in once: `read_token` says which of these fails, each with
its own reason.
"""

from datetime import date
from zoneinfo import ZoneInfo

from django.core import signing
from django.utils.crypto import constant_time_compare
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from booking.models import Appointment, AppointmentState
from config.errors import Conflict

PARIS = ZoneInfo("Europe/Paris")
VERSION = 1
ALGORITHMS = {VERSION: "sha256"}  # the allowlist: version byte -> HMAC algorithm
SALT = "fairslot.checkin"
MAC_BYTES = 8
PAYLOAD_BYTES = 7  # version (1), prefecture pk (2), appointment pk (4)
CODE_BYTES = PAYLOAD_BYTES + MAC_BYTES
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
CODE_LENGTH = CODE_BYTES * 8 // 5  # 24
GROUP = 4
# What people mistype or misread, and separators: ignored or read as Crockford says.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None, "\t": None})


class Refusal:
    """Why a code is refused: the stable codes of TokenRefused."""

    TAMPERED = "tampered"
    FOREIGN = "foreign"
    ALREADY_CHECKED_IN = "already_checked_in"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class TokenRefused(Conflict):
    """A refused code: `code` is one of Refusal, `appointment` the appointment when the code
    is genuine and of the reader's prefecture (None otherwise)."""

    def __init__(self, code: str, message, *, appointment: Appointment | None = None):
        super().__init__(code, message)
        self.appointment = appointment


# --- Making a code ------------------------------------------------------------------------------


def make_token(appointment: Appointment) -> str:
    """The check-in code of `appointment`, formatted for print and QR (`XXXX-XXXX-...`)."""
    prefecture_id = appointment.slot.window.prefecture_id
    if not (0 < prefecture_id < 1 << 16 and 0 < appointment.pk < 1 << 32):
        raise ValueError("a check-in code holds a prefecture pk < 2**16, appointment pk < 2**32")
    payload = (
        VERSION.to_bytes(1, "big")
        + prefecture_id.to_bytes(2, "big")
        + appointment.pk.to_bytes(4, "big")
    )
    return _grouped(_encode(payload + _macs(payload, ALGORITHMS[VERSION])[0]))


def _signer(algorithm: str) -> signing.Signer:
    return signing.Signer(salt=SALT, algorithm=algorithm)


def _macs(payload: bytes, algorithm: str) -> list[bytes]:
    """The payload's cut signature under the current key, then under each fallback key."""
    signer = _signer(algorithm)
    keys = [signer.key, *signer.fallback_keys]
    return [
        signing.b64_decode(signer.signature(payload.hex(), key).encode())[:MAC_BYTES]
        for key in keys
    ]


def _encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    return "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(CODE_LENGTH)))


def _grouped(code: str) -> str:
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


# --- Reading a code -----------------------------------------------------------------------------


def normalise(text: str) -> str:
    """The code as typed or scanned, in capitals, without separators, O read as 0, I and L
    as 1 (not checked)."""
    return (text or "").strip().upper().translate(_READ_AS)


def _decode(text: str) -> tuple[int, int] | None:
    """(prefecture pk, appointment pk) of a genuine code, or None."""
    code = normalise(text)
    if len(code) != CODE_LENGTH or any(char not in ALPHABET for char in code):
        return None
    number = 0
    for char in code:
        number = number * 32 + ALPHABET.index(char)
    data = number.to_bytes(CODE_BYTES, "big")
    payload, mac = data[:PAYLOAD_BYTES], data[PAYLOAD_BYTES:]
    algorithm = ALGORITHMS.get(payload[0])
    if algorithm is None:
        return None
    if not any(constant_time_compare(mac, expected) for expected in _macs(payload, algorithm)):
        return None
    return int.from_bytes(payload[1:3], "big"), int.from_bytes(payload[3:], "big")


def local_day(appointment: Appointment) -> date:
    return appointment.slot.starts_at.astimezone(PARIS).date()


def read_token(text: str, prefecture_id: int, today: date) -> Appointment:
    """The appointment a check-in code stands for, if it may be checked in now at a desk of
    `prefecture_id` on `today` (Europe/Paris), with its entry, slot, site and procedure.

    Raises TokenRefused, in this order: `tampered` (not a code of ours: mistyped, altered, or
    signed with another key), `foreign` (another prefecture's), `already_checked_in` (its
    message gives the time and desk of the first check-in), `cancelled` (not a confirmed
    appointment: cancelled, declined, lapsed, marked absent or not yet accepted), `expired`
    (another day than its appointment's)."""
    decoded = _decode(text)
    if decoded is None:
        raise TokenRefused(
            Refusal.TAMPERED,
            _("This code is not valid: it was mistyped or altered. Type it again from the "
              "convocation."),
        )  # fmt: skip
    token_prefecture, appointment_id = decoded
    if token_prefecture != prefecture_id:
        raise TokenRefused(
            Refusal.FOREIGN, _("This code is for an appointment in another prefecture.")
        )
    appointment = (
        Appointment.objects.select_related("entry", "slot__site", "slot__procedure")
        .filter(pk=appointment_id, slot__window__prefecture_id=prefecture_id)
        .first()
    )
    if appointment is None:  # a genuine code whose appointment is gone: nothing to check in
        raise TokenRefused(Refusal.CANCELLED, _("This appointment does not exist any more."))
    refuse_unless_due(appointment, today)
    return appointment


def refuse_unless_due(appointment: Appointment, today: date) -> None:
    """Raise TokenRefused unless `appointment` (in its current state) may be checked in on
    `today`: the last three checks of `read_token`."""
    if appointment.state == AppointmentState.CHECKED_IN:
        first = appointment.checked_in_at.astimezone(PARIS)
        raise TokenRefused(
            Refusal.ALREADY_CHECKED_IN,
            _("Already checked in on %(day)s at %(time)s, desk %(desk)s.")
            % {
                "day": date_format(first.date(), "SHORT_DATE_FORMAT"),
                "time": first.strftime("%H:%M"),
                "desk": appointment.checkin_desk,
            },
            appointment=appointment,
        )
    if appointment.state != AppointmentState.CONFIRMED:
        raise TokenRefused(
            Refusal.CANCELLED,
            _("This appointment is not confirmed (%(state)s): no check-in.")
            % {"state": appointment.get_state_display()},
            appointment=appointment,
        )
    day = local_day(appointment)
    if day != today:
        raise TokenRefused(
            Refusal.EXPIRED,
            _("This code is valid on the day of its appointment only: %(day)s.")
            % {"day": date_format(day, "SHORT_DATE_FORMAT")},
            appointment=appointment,
        )
