"""Receipts: a server-signed proof of a timely registration, checkable by anyone on a public
page, and the message that carries its short link to the applicant."""

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Contact, ContactKind
from accounts.sms_text import for_sms
from booking.models import Entry
from config.errors import DomainError

RECEIPT_SALT = "fairslot.receipt"


def receipt_token(entry: Entry) -> str:
    """A server-signed proof of a timely registration, checkable on a public page."""
    return signing.dumps(
        {
            "e": entry.entry_id,
            "w": entry.window.code,
            "p": entry.procedure.code,
            "t": entry.created_at.isoformat(),
        },
        salt=RECEIPT_SALT,
        compress=True,
    )


def check_receipt(token: str) -> dict:
    try:
        data = signing.loads(token.strip(), salt=RECEIPT_SALT)
    except signing.BadSignature:
        raise DomainError(
            "receipt_invalid",
            _("This receipt is not valid: it was not issued by this service, or it was changed."),
        ) from None
    return {
        "entry_id": data["e"],
        "window": data["w"],
        "procedure": data["p"],
        "registered_at": data["t"],
    }


def receipt_message(entry: Entry, contact: Contact, language: str) -> dict:
    """The receipt's message (an SMS or e-mail) to `contact`, as OutboxMessage's fields."""
    # A short link, so that the SMS fits in one part; it redirects to the signed receipt.
    url = settings.SITE_URL + reverse("receipt-short", args=[entry.entry_id])
    with translation.override(language):
        body = gettext(
            "Fairslot: registration recorded, number %(pseudonym)s. Draw after "
            "%(close)s. Receipt: %(url)s"
        ) % {
            "pseudonym": entry.pseudonym,
            "url": url,
            "close": timezone.localtime(entry.window.closes_at).strftime("%d/%m/%Y"),
        }
    return {
        "channel": contact.kind,
        "recipient": contact.value,
        "body": for_sms(body, language) if contact.kind == ContactKind.PHONE else body,
        "subject": "Fairslot",
        "dedup_key": f"receipt:{entry.entry_id}",
    }
