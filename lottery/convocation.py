"""What a convocation page shows besides its appointment: the check-in code
(booking.checkin_token.make_token) in its groups of four, to read aloud, and as a QR code drawn
server-side as inline SVG (no script, no image request, nothing for the CSP to allow)."""

import segno
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from booking.checkin_token import make_token
from booking.models import Appointment


def convocation_context(appointment: Appointment) -> dict:
    code = make_token(appointment)
    # segno writes only path data and the title given here: safe to insert as markup.
    qr_svg = segno.make(code, error="m").svg_inline(
        scale=5, border=4, light="#fff", title=_("Check-in QR code"), svgclass="fs-qr"
    )
    return {
        "appointment": appointment,
        "code_groups": code.split("-"),
        "qr_svg": mark_safe(qr_svg),  # noqa: S308 - segno's own output, see above
    }
