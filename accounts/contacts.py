"""Applicants' contacts (a phone number or an e-mail address): found by their blind index,
created once with their user row and code device, and the language every message to them is
written in. The codes sent to them are accounts/otp.py's.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import translation

from accounts import audit
from accounts.crypto import blind_index
from accounts.models import Contact, ContactCodeDevice


def get_or_create_contact(*, kind: str, value: str) -> Contact:
    """The contact for `value` (already normalised: E.164 phone, lower-case e-mail), created
    with its user row and code device if new; it comes with `contact.device` loaded. Two
    requests creating the same contact meet on its unique blind index: the loser reads the
    winner's rows."""
    value_hash = blind_index("contact", value)
    return known_contact(value_hash) or create_contact(kind, value, value_hash)[0]


def create_contact(kind: str, value: str, value_hash: str) -> tuple[Contact, bool]:
    """The new contact and True, or, if a concurrent request created it meanwhile, that one
    and False."""
    try:
        with transaction.atomic():
            return _new_contact(kind, value, value_hash), True
    except IntegrityError:
        return known_contact(value_hash), False


def known_contact(value_hash: str) -> Contact | None:
    return Contact.objects.select_related("device").filter(value_hash=value_hash).first()


def _new_contact(kind: str, value: str, value_hash: str) -> Contact:
    user = get_user_model()(username=f"c-{value_hash[:24]}")
    user.set_unusable_password()
    user.save()
    contact = Contact.objects.create(user=user, kind=kind, value=value, value_hash=value_hash)
    contact.device = ContactCodeDevice.objects.create(
        user=user, contact=contact, name=kind, confirmed=True
    )
    return contact


def find_contact(*, value: str) -> Contact | None:
    """The known contact for a normalised `value`, or None; creates nothing."""
    return known_contact(blind_index("contact", value))


def remember_language(contact: Contact, language: str, *, actor) -> None:
    """Store `language` (one of settings.LANGUAGES, else the default) on the contact: every
    later message to it is written in that language. A change is audited."""
    try:
        language = translation.get_supported_language_variant(language)
    except LookupError:
        language = settings.LANGUAGE_CODE
    if contact.language == language:
        return
    with transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(language=language)
        contact.language = language
        audit.record("contact.language_set", target=contact, actor=actor, language=language)
