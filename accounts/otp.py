"""Applicants' one-time codes: contacts, sending under limits, verification with lockout.

Codes: 6 digits from the CSPRNG, valid 10 minutes, single use, a new one voids the previous one,
stored as a keyed hash, at most 5 tries each. 10 consecutive failures lock the contact for 15
minutes, doubling on each repeat. Codes never appear in logs or audit rows.
"""

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import audit, ratelimit
from accounts.crypto import blind_index
from accounts.models import Contact, ContactCodeDevice, ContactKind
from accounts.outbox import enqueue_message
from config.errors import DomainError, Throttled

logger = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=10)
MAX_TRIES_PER_CODE = 5
FAILURES_BEFORE_LOCK = 10
LOCK_BASE = timedelta(minutes=15)
SEND_LIMITS = [(3, 15 * 60), (5, 24 * 3600)]  # per contact: (count, period in seconds)
IP_LIMIT_WITH_PROOF = 30  # per hour
IP_LIMIT_WITHOUT_PROOF = 5  # per hour, for browsers without JavaScript


def get_or_create_contact(*, kind: str, value: str) -> Contact:
    """`value` must already be normalised (E.164 phone, lower-case e-mail)."""
    value_hash = blind_index("contact", value)
    contact = Contact.objects.filter(value_hash=value_hash).first()
    if contact is not None:
        return contact
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(username=f"c-{value_hash[:24]}")
            contact = Contact.objects.create(
                user=user, kind=kind, value=value, value_hash=value_hash
            )
            ContactCodeDevice.objects.create(user=user, contact=contact, name=kind, confirmed=True)
            return contact
    except IntegrityError:  # created meanwhile by a concurrent request
        return Contact.objects.get(value_hash=value_hash)


def _code_hash(device_id: int, code: str) -> str:
    key = hashlib.sha256(f"fairslot/otp/{settings.BLIND_INDEX_KEY}".encode()).digest()
    return hmac.new(key, f"{device_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _locked(device: ContactCodeDevice):
    if device.locked_until and device.locked_until > timezone.now():
        seconds = int((device.locked_until - timezone.now()).total_seconds()) + 1
        raise Throttled(
            "contact_locked",
            _(
                "Too many wrong codes. This contact is locked for a while; try again "
                "later or ask at the prefecture's counter."
            ),
            retry_after=seconds,
        )


def _message(code: str, language: str) -> str:
    with translation.override(language):
        # Kept in the GSM-7 alphabet (no accents) so that one SMS carries it.
        return gettext(
            "Fairslot: your code is %(code)s. It expires in 10 minutes. Never give it to anyone."
        ) % {"code": code}


def send_code(*, contact: Contact, client_ip: str, proof_ok: bool, language: str = "fr") -> None:
    """Generate a new code for `contact` and put it in the outbox, under every sending limit."""
    ratelimit.hit(
        f"ip:{client_ip}",
        period=3600,
        limit=IP_LIMIT_WITH_PROOF if proof_ok else IP_LIMIT_WITHOUT_PROOF,
    )
    ratelimit.cooldown(f"send:{contact.pk}", seconds=60)
    for limit, period in SEND_LIMITS:
        ratelimit.hit(f"send:{contact.pk}", limit=limit, period=period)
    if contact.kind == ContactKind.PHONE:
        ratelimit.hit("sms-budget", limit=settings.SMS_DAILY_BUDGET, period=24 * 3600)
    with transaction.atomic():
        device = ContactCodeDevice.objects.select_for_update().get(contact=contact)
        _locked(device)
        code = f"{secrets.randbelow(10**6):06d}"
        device.token = _code_hash(device.pk, code)
        device.valid_until = timezone.now() + CODE_TTL
        device.attempts = 0
        device.sent_count += 1
        device.save()
        enqueue_message(
            channel=contact.kind,
            recipient=contact.value,
            body=_message(code, language),
            subject="Fairslot",
            dedup_key=f"otp:{device.pk}:{device.sent_count}",
            expires_at=device.valid_until,
        )
        audit.record("otp.sent", target=contact)


def verify_code(*, contact: Contact, code: str) -> None:
    """Check a code; raise DomainError unless it is right. Marks the contact verified."""
    with transaction.atomic():
        device = ContactCodeDevice.objects.select_for_update().get(contact=contact)
        _locked(device)
        now = timezone.now()
        if not device.token or device.valid_until <= now:
            raise DomainError(
                "code_expired", _("This code has expired or was already used. Ask for a new one.")
            )
        candidate = (code or "").strip()
        if hmac.compare_digest(device.token, _code_hash(device.pk, candidate)):
            device.token, device.valid_until = None, now
            device.attempts = device.consecutive_failures = 0
            device.save()
            Contact.objects.filter(pk=contact.pk, verified_at__isnull=True).update(verified_at=now)
            audit.record("otp.verified", target=contact)
            return
        _record_failure(device, now)
    # Outside the atomic block: the failure counters above are committed before we refuse.
    raise DomainError("code_wrong", _("This code is not right. Check it and try again."))


def _record_failure(device: ContactCodeDevice, now) -> None:
    device.attempts += 1
    device.consecutive_failures += 1
    if device.attempts >= MAX_TRIES_PER_CODE:
        device.token = None  # this code is spent; a new one must be asked for
    if device.consecutive_failures >= FAILURES_BEFORE_LOCK:
        device.locked_until = now + LOCK_BASE * (2**device.lock_count)
        device.lock_count += 1
        device.consecutive_failures = 0
    device.save()


def purge_expired_challenges() -> int:
    """Forget codes that expired more than a day ago (minimisation)."""
    cutoff = timezone.now() - timedelta(days=1)
    return ContactCodeDevice.objects.filter(token__isnull=False, valid_until__lt=cutoff).update(
        token=None
    )
