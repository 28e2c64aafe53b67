"""Applicants' one-time codes: contacts, sending under limits, verification with lockout.

Codes: 6 digits from the CSPRNG, valid 10 minutes, single use, a new one voids the previous one,
stored as a keyed hash, at most 5 tries each. 10 consecutive failures lock the contact for 15
minutes, doubling on each repeat, never more than an hour (a stranger typing wrong codes must
not keep a person out for long). Codes never appear in logs or audit rows.

Caps limit the codes *sent*, never the use of a code that reached the phone: a person whose
contact is at its sending cap (because a stranger asked for codes to it) still holds the last
code sent, and may enter it ("I already have a code").
"""

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import audit, contacts, outbox, ratelimit, sms_budget, sms_text
from accounts.crypto import blind_index
from accounts.models import Contact, ContactCodeDevice, ContactKind
from config import counters
from config.errors import DomainError, Throttled

logger = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=10)
MAX_TRIES_PER_CODE = 5
FAILURES_BEFORE_LOCK = 10
LOCK_BASE = timedelta(minutes=15)
LOCK_MAX = timedelta(hours=1)
SEND_LIMITS = [(3, 15 * 60), (5, 3600)]  # per contact: (count, period in seconds)
SEND_COOLDOWN = 60
IP_LIMIT_WITH_PROOF = 60  # per hour
# Per hour, for browsers without JavaScript: a family or an association's office behind one
# address registers 30 people an hour (and asks for a few codes again); the per-contact caps
# and the SMS budget bound the rest. Never above the limit with a proof.
IP_LIMIT_WITHOUT_PROOF = 40


def _code_hash(value_hash: str, code: str) -> str:
    """The stored form of a code, bound to its contact by the contact's blind index."""
    key = hashlib.sha256(f"fairslot/otp/{settings.BLIND_INDEX_KEY}".encode()).digest()
    return hmac.new(key, f"{value_hash}:{code}".encode(), hashlib.sha256).hexdigest()


def _lock_error(device: ContactCodeDevice, now) -> Throttled:
    return Throttled(
        "contact_locked",
        _(
            "Too many wrong codes. This contact is locked for a while; try again "
            "later or ask at the prefecture's counter."
        ),
        retry_after=int((device.locked_until - now).total_seconds()) + 1,
    )


def _message(code: str, language: str, kind: str = ContactKind.PHONE) -> str:
    """The code's message in `language`: by SMS, folded into GSM-7 for French and English so
    that one part carries it (accounts.sms_text)."""
    with translation.override(language):
        text = gettext(
            "Fairslot: your code is %(code)s. It expires in 10 minutes. Never give it to anyone."
        ) % {"code": code}
    return sms_text.for_sms(text, language) if kind == ContactKind.PHONE else text


def _country_code(value: str) -> int:
    return phonenumbers.parse(value).country_code


def check_send_limits(
    *,
    kind: str,
    value: str,
    client_ip: str,
    proof_ok: bool,
    verified: bool = False,
    language: str = "fr",
) -> None:
    """Count a code sent to the contact `value` (normalised), or raise Throttled (or Busy: fail
    closed) if a sending limit is reached. Reads and writes no row, so that a refused request
    writes nothing. SMS also count against the day's budget (`accounts.sms_budget`), where a
    share is kept for contacts already `verified`; e-mail never does."""
    value_hash = blind_index("contact", value)
    per_ip = IP_LIMIT_WITH_PROOF if proof_ok else IP_LIMIT_WITHOUT_PROOF
    budget = ()
    if kind == ContactKind.PHONE:
        parts = sms_text.segments(_message("000000", language))
        budget = sms_budget.rules(
            country_code=_country_code(value), verified=verified, segments=parts
        )
    try:
        ratelimit.check(
            ratelimit.Hit(f"ip:{client_ip}", per_ip, 3600),
            ratelimit.Cooldown(f"send:{value_hash}", SEND_COOLDOWN),
            *(ratelimit.Hit(f"send:{value_hash}", limit, period) for limit, period in SEND_LIMITS),
            *budget,
        )
    except DomainError as refusal:
        counters.CODES_REFUSED.labels(refusal.code).inc()
        raise


def send_code(*, contact: Contact, client_ip: str, proof_ok: bool, language: str = "fr") -> None:
    """Put a new code for `contact` in the outbox, under every sending limit."""
    check_send_limits(
        kind=contact.kind,
        value=contact.value,
        client_ip=client_ip,
        proof_ok=proof_ok,
        verified=contact.verified_at is not None,
        language=language,
    )
    issue_code(contact=contact, language=language)


def issue_code(*, contact: Contact, language: str = "fr") -> None:
    """Store a new code on the contact's device (voiding the previous one) and put its message
    in the outbox, in one transaction, on the locked device row; raises Throttled if the
    contact is locked. The sending limits are the caller's to check first
    (`check_send_limits`)."""
    # No savepoint of its own inside the caller's transaction: nothing raises in the block
    # (a refusal is decided inside and raised after it, having written nothing).
    with transaction.atomic(savepoint=False):
        device = ContactCodeDevice.objects.select_for_update().get(pk=contact.device.pk)
        refusal = _store_code(contact, device, language)
    if refusal is not None:
        raise refusal


def _store_code(contact: Contact, device: ContactCodeDevice, language: str) -> Throttled | None:
    """`issue_code` on a device row the caller holds (locked, or inserted by its transaction);
    returns the refusal, having written nothing, if the contact is locked."""
    code = f"{secrets.randbelow(10**6):06d}"
    now = timezone.now()
    if device.locked_until and device.locked_until > now:
        refusal = _lock_error(device, now)
        counters.CODES_REFUSED.labels(refusal.code).inc()
        return refusal
    device.token = _code_hash(contact.value_hash, code)
    device.valid_until = now + CODE_TTL
    device.attempts = 0
    device.sent_count += 1
    device.save(update_fields=["token", "valid_until", "attempts", "sent_count"])
    audit.record("otp.sent", target=contact, actor="applicant")
    outbox.enqueue_message(
        channel=contact.kind,
        recipient=contact.value,
        body=_message(code, language, contact.kind),
        subject="Fairslot",
        dedup_key=f"otp:{device.pk}:{device.sent_count}",
        expires_at=device.valid_until,
    )
    contact.device = device
    counters.CODES_SENT.labels(contact.kind).inc()
    return None


def contact_with_code(
    *, kind: str, value: str, client_ip: str, proof_ok: bool, language: str = "fr"
) -> Contact:
    """The contact for `value` (normalised), created if new, with a new code sent: the sending
    limits first (a refusal writes nothing), then the contact and its code. Call it inside the
    caller's transaction to keep the caller's writes with the code (a locked contact raises
    Throttled and keeps nothing)."""
    value_hash = blind_index("contact", value)
    known = contacts.known_contact(value_hash)
    check_send_limits(
        kind=kind,
        value=value,
        client_ip=client_ip,
        proof_ok=proof_ok,
        verified=known is not None and known.verified_at is not None,
        language=language,
    )
    if known is not None:
        issue_code(contact=known, language=language)
        return known
    contact, created = contacts.create_contact(kind, value, value_hash)
    if created:  # its device row is this transaction's: no one else can hold it
        refusal = _store_code(contact, contact.device, language)
        if refusal is not None:
            raise refusal
    else:
        issue_code(contact=contact, language=language)
    return contact


def start_login(
    *, kind: str, value: str, client_ip: str, proof_ok: bool, language: str = "fr"
) -> Contact:
    """An applicant's log-in: a code sent to `value` (normalised), known or not, with the same
    answer either way. A refused request writes nothing."""
    with transaction.atomic():
        return contact_with_code(
            kind=kind, value=value, client_ip=client_ip, proof_ok=proof_ok, language=language
        )


def login_with_code(*, value_hash: str, code: str, language: str | None = None) -> Contact:
    """Log in with a code that already reached the contact whose blind index is `value_hash`,
    however it was asked for: the sending caps never stop a delivered code from being used. An
    unknown contact gets the answer of a known one without a live code (no enumeration). The
    `language` the person uses now becomes the one of their later messages."""
    contact = contacts.known_contact(value_hash)
    if contact is None:
        raise _spent_code_error(ContactCodeDevice())
    verify_code(contact=contact, code=code)
    if language:
        contacts.remember_language(contact, language, actor="applicant")
    return contact


def wrong_code() -> DomainError:
    return DomainError("code_wrong", _("This code is not right. Check it and try again."))


def _spent_code_error(device: ContactCodeDevice) -> DomainError:
    if device.attempts >= MAX_TRIES_PER_CODE:
        return DomainError(
            "code_too_many_tries",
            _("You entered a wrong code too many times. Ask for a new code."),
        )
    return DomainError(
        "code_expired", _("This code has expired or was already used. Ask for a new one.")
    )


def check_code(*, contact: Contact, code: str) -> bool:
    """Check a code, on the locked device row. True: it was right; it is spent and the contact
    is verified. False: it was wrong and the failure is counted (the caller must let that
    commit before refusing with `wrong_code()`). Raises DomainError if the code expired or was
    tried too often, or Throttled if the contact is locked; those write nothing."""
    hashed = _code_hash(contact.value_hash, (code or "").strip())
    # No savepoint of its own inside the caller's transaction: nothing raises in the block.
    with transaction.atomic(savepoint=False):
        device = ContactCodeDevice.objects.select_for_update().get(pk=contact.device.pk)
        contact.device = device
        outcome = _checked_code(contact, device, hashed)
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def _checked_code(contact: Contact, device: ContactCodeDevice, hashed: str):
    """True (spent), False (failure counted), or the refusal to raise (nothing written)."""
    now = timezone.now()
    if device.locked_until and device.locked_until > now:
        return _lock_error(device, now)
    if not device.token or device.valid_until <= now:
        return _spent_code_error(device)
    if not hmac.compare_digest(device.token, hashed):
        _record_failure(contact, device, now)
        return False
    _spend(contact, device, now)
    return True


def _spend(contact: Contact, device: ContactCodeDevice, now) -> None:
    device.token, device.valid_until = None, now
    device.attempts = device.consecutive_failures = 0
    device.save(update_fields=["token", "valid_until", "attempts", "consecutive_failures"])
    if contact.verified_at is None:
        contact.verified_at = now
        contact.save(update_fields=["verified_at"])
    audit.record("otp.verified", target=contact, actor="applicant")


def verify_code(*, contact: Contact, code: str) -> None:
    """Check a code; raise DomainError unless it is right. Marks the contact verified."""
    if not check_code(contact=contact, code=code):
        raise wrong_code()  # the failure is counted and committed


def _record_failure(contact: Contact, device: ContactCodeDevice, now) -> None:
    device.attempts += 1
    device.consecutive_failures += 1
    if device.attempts >= MAX_TRIES_PER_CODE:
        device.token = None  # this code is spent; a new one must be asked for
    if device.consecutive_failures >= FAILURES_BEFORE_LOCK:
        device.locked_until = now + min(LOCK_MAX, LOCK_BASE * (2**device.lock_count))
        device.lock_count += 1
        device.consecutive_failures = 0
        audit.record("otp.locked", target=contact, actor="applicant")
    device.save(
        update_fields=["attempts", "consecutive_failures", "token", "locked_until", "lock_count"]
    )


def purge_expired_challenges() -> int:
    """Forget codes that expired more than a day ago (minimisation)."""
    cutoff = timezone.now() - timedelta(days=1)
    return ContactCodeDevice.objects.filter(token__isnull=False, valid_until__lt=cutoff).update(
        token=None
    )
