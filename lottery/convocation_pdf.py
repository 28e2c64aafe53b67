"""The convocation as a one-page A4 PDF, for people with no printer who show their phone at the
desk: the appointment in the person's language, then the same in French for the agent (one
block only in French), and the check-in code as text and as a QR code (booking.checkin_token).

Nothing personal is printed: no name, birth date or identity number (the agent checks the
papers against the screen), only the entry's reference. Text is shaped by Pango with the Noto
fonts named by their fontconfig families (Debian's fonts-noto-core, which the Dockerfile
installs): Arabic script for Arabic, Dari and Pashto, Ethiopic for Tigrinya, Noto Sans for
Latin and Cyrillic. Nothing is fetched: the QR code is inline SVG and the fetcher given to
WeasyPrint refuses every URL but data:, failing the rendering if one is asked for.
"""

import logging
import unicodedata
from functools import partial
from zoneinfo import ZoneInfo

import segno
import weasyprint
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from weasyprint.urls import URLFetcher

from booking.checkin_token import make_token
from booking.models import Appointment

logger = logging.getLogger(__name__)
PARIS = ZoneInfo("Europe/Paris")
AGENT_LANGUAGE = "fr"
# Font sizes tried in turn until the convocation fits one page (a long list of documents).
SIZES = ("normal", "small", "smaller")


def convocation_pdf(appointment: Appointment, language: str) -> bytes:
    """The convocation of `appointment` as PDF bytes: one A4 page, the person's `language`
    (one of settings.LANGUAGES, else French) then French."""
    language = supported_language(language)
    code = make_token(appointment)
    blocks = [_block(appointment, language, code, person=True)]
    if language != AGENT_LANGUAGE:
        blocks.append(_block(appointment, AGENT_LANGUAGE, code, person=False))
    for size in SIZES:
        document = _render(appointment, blocks, size)
        if len(document.pages) == 1:
            break
    else:  # never cut what to bring: more pages rather than a missing line
        logger.warning("convocation %s: %d pages", appointment.pk, len(document.pages))
    return document.write_pdf()


def supported_language(language: str) -> str:
    """`language` as one of settings.LANGUAGES ("fa-AF" -> "fa-af"), French if unknown."""
    try:
        return translation.get_supported_language_variant(language)
    except LookupError:
        return AGENT_LANGUAGE


def _render(appointment: Appointment, blocks: list[dict], size: str) -> weasyprint.Document:
    html = render_to_string(
        "lottery/convocation_pdf.html",
        {"blocks": blocks, "size": size, "reference": appointment.entry.pseudonym},
    )
    # No base URL: the template names no file, and the fetcher allows data: URIs only.
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=fetcher).render()


def _block(appointment: Appointment, language: str, code: str, *, person: bool) -> dict:
    """What one language's block says, translated and formatted in that language. Texts are
    `Directed`: WeasyPrint does not guess the direction of a <bdi>, so it is given.

    The QR code and what to bring are printed once, in the person's block: the code is the
    same for both, and the documents are printed as the prefecture typed them, in French, so
    the agent reads the very lines there (and the page keeps its room)."""
    slot = appointment.slot
    wanted = documents(slot.procedure.documents) if person else []
    starts = slot.starts_at.astimezone(PARIS)
    with translation.override(language):
        rtl = translation.get_language_bidi()
        text = partial(Directed, fallback="rtl" if rtl else "ltr")
        return {
            "language": language,
            "language_name": text(dict(settings.LANGUAGES)[language]),
            "rtl": rtl,
            "labels": {key: text(label) for key, label in _labels().items()},
            "long_date": text(date_format(starts, "l j E Y")),
            "short_date": starts.strftime("%d/%m/%Y"),
            "time": starts.strftime("%H:%M"),
            "site": text(slot.site.name),
            "address": text(slot.site.address),
            "procedure": text(slot.procedure.name),
            "documents": [text(line) for line in wanted],
            "reference": appointment.entry.pseudonym,
            "entry_id": appointment.entry.entry_id,
            "code_groups": code.split("-"),
            "qr_svg": _qr_svg(code) if person else "",
        }


class Directed(str):
    """A text and its direction by its first strong character (Unicode's P2 rule), else its
    block's: the prefecture's French addresses stay left to right in an Arabic block, and so
    does a label not translated yet."""

    def __new__(cls, text: str, fallback: str):
        directed = super().__new__(cls, text)
        directed.fallback = fallback
        return directed

    @property
    def dir(self) -> str:
        for char in self:
            kind = unicodedata.bidirectional(char)
            if kind == "L":
                return "ltr"
            if kind in ("R", "AL"):
                return "rtl"
        return self.fallback


def _labels() -> dict[str, str]:
    return {
        "title": _("Convocation"),
        "notice": _("Bring this convocation and your identity papers to the desk on the day."),
        "date": _("Date"),
        "time": _("Time"),
        "site": _("Site"),
        "procedure": _("Procedure"),
        "reference": _("Reference"),
        "documents": _("What to bring"),
        "code": _("Check-in code"),
        "code_help": _(
            "The agent scans the QR code, or types the code below. It is valid on the day of "
            "the appointment only."
        ),
    }


def documents(text: str) -> list[str]:
    """Procedure.documents as its lines, shown as written (blank lines dropped)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _qr_svg(code: str) -> str:
    # segno writes path data and the title only: safe as markup. 5 units a module, 33 modules
    # with the quiet zone: 165 CSS px, 44 mm on paper, scanned from a phone's screen too.
    svg = segno.make(code, error="m").svg_inline(
        scale=5, border=4, dark="#000", light="#fff", title=_("Check-in QR code")
    )
    return mark_safe(svg)  # noqa: S308 - segno's own output, see above
