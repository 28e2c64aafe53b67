"""Registration: start (answers kept encrypted, code sent), verify (code), submit (entry).

One person, one entry: uniqueness rests on the person's blind index and the database
constraint `entry_one_active_per_person_procedure`, never on a check-then-insert. Duplicates are
only refused after the contact is verified, with a message that does not say which field
matched, and at most three times per verified contact and window.
"""

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import audit, otp
from accounts.crypto import blind_index
from accounts.models import Contact, ContactKind, IdentityKind, Person
from accounts.normalize import (
    NormalizationError,
    normalize_email,
    normalize_foreign_number,
    normalize_name,
    normalize_passport,
    normalize_phone,
)
from accounts.outbox import enqueue_message
from booking.models import (
    ACTIVE_ENTRY_STATUSES,
    MAX_ENTRIES_PER_CONTACT,
    Channel,
    DuplicateAttempt,
    Entry,
    PendingRegistration,
    Window,
    WindowState,
)
from config.errors import Conflict, DomainError, Throttled

logger = logging.getLogger(__name__)

MAX_DUPLICATE_ANSWERS = 3
RECEIPT_SALT = "fairslot.receipt"


class FieldError(DomainError):
    """Bad input in one field; `field` names it so forms can show the message beside it."""

    def __init__(self, field_name: str, code: str, message):
        super().__init__(code, message)
        self.field = field_name


@dataclass(frozen=True)
class RegistrationInput:
    procedure: str
    identity_kind: str
    identifier: str
    given_names: str
    family_name: str
    birth_date: date
    nationality: str
    contact_kind: str
    contact: str
    permit_expires_on: date | None = None
    sites: tuple[str, ...] = field(default_factory=tuple)
    excluded_weekdays: str = ""


def _normalised(data: RegistrationInput) -> dict:
    """Validate and normalise every answer; raise FieldError naming the first bad field."""

    def check(field_name, function, value):
        try:
            return function(value)
        except NormalizationError as exc:
            raise FieldError(field_name, exc.code, exc.message) from None

    if data.identity_kind == IdentityKind.FOREIGN_NUMBER:
        identifier = check("identifier", normalize_foreign_number, data.identifier)
        identity_key = f"agdref:{identifier}"
    elif data.identity_kind == IdentityKind.PASSPORT:
        identifier = check("identifier", normalize_passport, data.identifier)
        identity_key = f"passport:{data.nationality}:{identifier}:{data.birth_date.isoformat()}"
    else:
        raise FieldError("identity_kind", "identity_kind", _("Choose a kind of identity document."))
    if data.contact_kind == ContactKind.PHONE:
        contact = check("contact", normalize_phone, data.contact)
    elif data.contact_kind == ContactKind.EMAIL:
        contact = check("contact", normalize_email, data.contact)
    else:
        raise FieldError("contact_kind", "contact_kind", _("Choose a phone or an e-mail."))
    family = check("family_name", normalize_name, data.family_name)
    given = check("given_names", normalize_name, data.given_names)
    weekdays = "".join(sorted(set(data.excluded_weekdays)))
    if any(day not in "1234567" for day in weekdays) or len(weekdays) > 6:
        raise FieldError("excluded_weekdays", "weekdays", _("You must accept at least one day."))
    return {
        **asdict(data),
        "birth_date": data.birth_date.isoformat(),
        "permit_expires_on": data.permit_expires_on and data.permit_expires_on.isoformat(),
        "identifier": identifier,
        "contact": contact,
        "excluded_weekdays": weekdays,
        "sites": sorted(set(data.sites)),
        "identity_hash": blind_index("identity", identity_key),
        "likeness_hash": blind_index(
            "likeness", f"{family}|{given}|{data.birth_date.isoformat()}|{data.nationality}"
        ),
    }


def _check_window(window: Window, answers: dict) -> None:
    # One query answers "open now, by database time?" and "which procedures?".
    procedures = set(
        Window.objects.filter(
            pk=window.pk, state=WindowState.OPEN, opens_at__lte=Now(), closes_at__gt=Now()
        ).values_list("procedures__code", flat=True)
    )
    if not procedures:
        raise Conflict("window_closed", _("This registration window is closed."))
    if answers["procedure"] not in procedures:
        raise FieldError("procedure", "procedure", _("Choose a procedure of this window."))
    if answers["sites"]:
        known = set(window.prefecture.sites.values_list("code", flat=True))
        if not set(answers["sites"]) <= known:
            raise FieldError("sites", "sites", _("Choose sites of this prefecture."))
    if answers["birth_date"] > timezone.localdate().isoformat():
        raise FieldError("birth_date", "birth_date", _("The birth date is in the future."))


def start_registration(
    *,
    window: Window,
    data: RegistrationInput,
    client_ip: str,
    proof_ok: bool,
    channel: str = Channel.WEB,
    language: str = "fr",
    idempotency_key: str | None = None,
) -> PendingRegistration:
    """Keep the answers (encrypted) and send a code to the contact. Says nothing about whether
    the person or the contact is already known."""
    if idempotency_key:
        existing = PendingRegistration.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    answers = _normalised(data)
    _check_window(window, answers)
    # One transaction: if sending is refused (limits, lock), nothing of this request is kept.
    with transaction.atomic():
        contact = otp.get_or_create_contact(kind=data.contact_kind, value=answers["contact"])
        pending = PendingRegistration.objects.create(
            window=window,
            contact=contact,
            payload=json.dumps(answers),
            channel=channel,
            idempotency_key=idempotency_key or None,
        )
        otp.send_code(contact=contact, client_ip=client_ip, proof_ok=proof_ok, language=language)
    return pending


def get_pending(token: str) -> PendingRegistration:
    pending = (
        PendingRegistration.objects.select_related("window", "contact", "entry")
        .filter(token=token, created_at__gt=timezone.now() - timedelta(days=1))
        .first()
    )
    if pending is None:
        raise DomainError(
            "registration_not_found",
            _("This registration has expired. Please start again."),
            http_status=404,
        )
    return pending


def verify_registration(*, pending: PendingRegistration, code: str) -> None:
    otp.verify_code(contact=pending.contact, code=code)
    PendingRegistration.objects.filter(pk=pending.pk).update(verified_at=timezone.now())
    pending.verified_at = timezone.now()


def _person_for(answers: dict) -> Person:
    person = Person.objects.filter(identity_hash=answers["identity_hash"]).first()
    if person is not None:
        return person
    try:
        with transaction.atomic():
            return Person.objects.create(
                kind=answers["identity_kind"],
                identity_hash=answers["identity_hash"],
                likeness_hash=answers["likeness_hash"],
                identifier=answers["identifier"],
                given_names=answers["given_names"],
                family_name=answers["family_name"],
                birth_date=answers["birth_date"],
                nationality=answers["nationality"],
            )
    except IntegrityError:  # the same person registering at the same instant elsewhere
        return Person.objects.get(identity_hash=answers["identity_hash"])


def initial_tier(window: Window, permit_expires_on: str | None, urgent_approved=False) -> int:
    """Tier 0 for urgent cases: permit expired or expiring within the window's urgency days."""
    if urgent_approved:
        return 0
    if permit_expires_on:
        limit = window.closes_at.date() + timedelta(days=window.urgency_days)
        return 0 if date.fromisoformat(permit_expires_on) <= limit else 1
    return 1


def _create_entry(pending: PendingRegistration, answers: dict, person: Person) -> Entry | None:
    """Insert the entry in the first free contact seat. None means: a duplicate person."""
    window = pending.window
    procedure = window.procedures.get(code=answers["procedure"])
    for _attempt in range(MAX_ENTRIES_PER_CONTACT):
        taken = set(
            Entry.objects.filter(
                contact=pending.contact, status__in=ACTIVE_ENTRY_STATUSES
            ).values_list("contact_seat", flat=True)
        )
        free = [s for s in range(1, MAX_ENTRIES_PER_CONTACT + 1) if s not in taken]
        if not free:
            raise Conflict(
                "contact_full",
                _("This phone or e-mail already has the maximum number of registrations (3)."),
            )
        try:
            with transaction.atomic():
                entry = Entry.objects.create(
                    window=window,
                    procedure=procedure,
                    person=person,
                    contact=pending.contact,
                    contact_seat=free[0],
                    channel=pending.channel,
                    excluded_weekdays=answers["excluded_weekdays"],
                    permit_expires_on=answers["permit_expires_on"],
                    tier=initial_tier(window, answers["permit_expires_on"]),
                )
                if answers["sites"]:
                    entry.sites.set(window.prefecture.sites.filter(code__in=answers["sites"]))
                return entry
        except IntegrityError:
            if Entry.objects.filter(
                procedure=procedure, person=person, status__in=ACTIVE_ENTRY_STATUSES
            ).exists():
                return None
            # Otherwise another request took that seat first: look again.
    raise Conflict(
        "contact_full",
        _("This phone or e-mail already has the maximum number of registrations (3)."),
    )


def submit_registration(*, pending: PendingRegistration, language: str = "fr") -> Entry:
    """Create the entry of a verified registration. Repeating it returns the same entry."""
    if not pending.verified_at:
        raise DomainError("not_verified", _("Enter the code we sent you first."), http_status=403)
    duplicate = False
    with transaction.atomic():
        pending = (
            PendingRegistration.objects.select_for_update(of=("self",))
            .select_related("window", "window__prefecture", "contact")
            .get(pk=pending.pk)
        )
        if pending.entry_id:
            return pending.entry
        answers = json.loads(pending.payload)
        _check_window(pending.window, answers)
        refused = DuplicateAttempt.objects.filter(
            contact=pending.contact, window=pending.window
        ).values_list("count", flat=True)
        if refused and refused[0] >= MAX_DUPLICATE_ANSWERS:
            raise Throttled(
                "too_many_duplicates", _("Too many refused registrations from this contact.")
            )
        entry = _create_entry(pending, answers, _person_for(answers))
        if entry is None:
            attempts, _created = DuplicateAttempt.objects.get_or_create(
                contact=pending.contact, window=pending.window
            )
            DuplicateAttempt.objects.filter(pk=attempts.pk).update(count=F("count") + 1)
            audit.record(
                "entry.duplicate_refused",
                target=pending.contact,
                prefecture_id=pending.window.prefecture_id,
            )
            duplicate = True
        else:
            pending.entry = entry
            pending.save(update_fields=["entry"])
            audit.record(
                "entry.registered",
                target=entry,
                prefecture_id=pending.window.prefecture_id,
                entry_id=entry.entry_id,
                channel=entry.channel,
            )
            _send_receipt(entry, pending.contact, language)
    if duplicate:
        raise Conflict(
            "already_registered",
            _(
                "A registration already exists for this person and procedure. "
                "If you think this is a mistake, go to the prefecture's counter."
            ),
        )
    return entry


# --- Receipts ---------------------------------------------------------------------------------


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


def _send_receipt(entry: Entry, contact: Contact, language: str) -> None:
    from django.conf import settings
    from django.urls import reverse

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
    enqueue_message(
        channel=contact.kind,
        recipient=contact.value,
        body=body,
        subject="Fairslot",
        dedup_key=f"receipt:{entry.entry_id}",
    )
