"""Registration: start (answers kept encrypted, code sent), verify (code), submit (entry).

The same services serve the web form, the API and counter registration. Each step is one
transaction. One person, one entry: uniqueness rests on the person's blind index and the
database constraint `entry_one_active_per_person_procedure`, never on a check alone.
Duplicates are only refused after the contact is verified, with a message that does not say
which field matched, and at most three times per verified contact and window.
"""

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field, fields
from datetime import date, timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import audit, contacts, otp
from accounts.crypto import blind_index
from accounts.models import ContactKind, IdentityKind
from accounts.normalize import (
    NormalizationError,
    normalize_contact,
    normalize_foreign_number,
    normalize_name,
    normalize_nationality,
    normalize_passport,
)
from booking.entries import already_registered, enter_person
from booking.models import (
    Channel,
    DuplicateAttempt,
    Entry,
    PendingRegistration,
    Procedure,
    Site,
    Window,
    WindowState,
)
from config.errors import Conflict, DomainError, Throttled

logger = logging.getLogger(__name__)

MAX_DUPLICATE_ANSWERS = 3
PENDING_TTL = timedelta(days=1)


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

    @classmethod
    def from_answers(cls, answers: dict) -> "RegistrationInput":
        """From a form's or serializer's cleaned data: sites and weekdays come as lists; keys
        that are not answers (the window, the proof of work) are left out."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in answers.items() if k in names}
        values["sites"] = tuple(values.get("sites") or ())
        values["excluded_weekdays"] = "".join(values.get("excluded_weekdays") or ())
        return cls(**values)


def _checked(field_name, function, value):
    try:
        return function(value)
    except NormalizationError as exc:
        raise FieldError(field_name, exc.code, exc.message) from None


def _identity(data: RegistrationInput, nationality: str) -> tuple[str, str]:
    """The normalised identifier and the key that makes the person unique."""
    if data.identity_kind == IdentityKind.FOREIGN_NUMBER:
        identifier = _checked("identifier", normalize_foreign_number, data.identifier)
        return identifier, f"agdref:{identifier}"
    if data.identity_kind == IdentityKind.PASSPORT:
        identifier = _checked("identifier", normalize_passport, data.identifier)
        return identifier, f"passport:{nationality}:{identifier}:{data.birth_date.isoformat()}"
    raise FieldError("identity_kind", "identity_kind", _("Choose a kind of identity document."))


def _contact(data: RegistrationInput, optional: bool) -> str:
    if optional and not data.contact.strip():
        return ""
    if data.contact_kind not in ContactKind.values:
        raise FieldError("contact_kind", "contact_kind", _("Choose a phone or an e-mail."))
    return _checked("contact", partial(normalize_contact, data.contact_kind), data.contact)


def normalise_answers(data: RegistrationInput, *, contact_optional: bool = False) -> dict:
    """Validate and normalise every answer; raise FieldError naming the first bad field. With
    `contact_optional` (a person registered by staff), no contact gives "" as the contact."""
    nationality = _checked("nationality", normalize_nationality, data.nationality)
    identifier, identity_key = _identity(data, nationality)
    contact = _contact(data, contact_optional)
    family = _checked("family_name", normalize_name, data.family_name)
    given = _checked("given_names", normalize_name, data.given_names)
    weekdays = "".join(sorted(set(data.excluded_weekdays)))
    if any(day not in "1234567" for day in weekdays) or len(weekdays) > 6:
        raise FieldError("excluded_weekdays", "weekdays", _("You must accept at least one day."))
    if data.birth_date > timezone.localdate():
        raise FieldError("birth_date", "birth_date", _("The birth date is in the future."))
    birth = data.birth_date.isoformat()
    return {
        **asdict(data),
        "birth_date": birth,
        "permit_expires_on": data.permit_expires_on and data.permit_expires_on.isoformat(),
        "identifier": identifier,
        "nationality": nationality,
        "contact": contact,
        "excluded_weekdays": weekdays,
        "sites": sorted(set(data.sites)),
        "identity_hash": blind_index("identity", identity_key),
        # Same names, birth date and nationality: flagged for review, never refused.
        "likeness_hash": blind_index("likeness", f"{family}|{given}|{birth}|{nationality}"),
    }


def _open_now() -> Q:
    """The window is open now, by database time."""
    return Q(state=WindowState.OPEN, opens_at__lte=Now(), closes_at__gt=Now())


def window_by_code(code: str) -> Window | None:
    """The window with this code, open or not (the services say which), or None."""
    return Window.objects.filter(code=code).first()


def _window_closed() -> Conflict:
    return Conflict("window_closed", _("This registration window is closed."))


def check_window(window: Window, answers: dict) -> Procedure:
    """Refuse unless the window is open (by database time) and offers the chosen procedure and
    sites; return the procedure."""
    open_now = Window.objects.filter(_open_now(), pk=window.pk)
    procedure = window.procedures.filter(Exists(open_now), code=answers["procedure"]).first()
    if procedure is None:  # which refusal: ask once more (a refusal's cost only)
        if not open_now.exists():
            raise _window_closed()
        raise FieldError("procedure", "procedure", _("Choose a procedure of this window."))
    if answers["sites"]:
        known = Site.objects.filter(prefecture_id=window.prefecture_id, code__in=answers["sites"])
        if known.count() != len(answers["sites"]):
            raise FieldError("sites", "sites", _("Choose sites of this prefecture."))
    return procedure


# --- Start ------------------------------------------------------------------------------------


def _request_hash(window: Window, answers: dict) -> str:
    """What an idempotency key is bound to: the window and every normalised answer."""
    body = json.dumps({"window": window.code, **answers}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def _replayed(key: str, contact: str, request_hash: str) -> PendingRegistration | None:
    """The registration an earlier request with this idempotency key started, if any. A key
    belongs to its contact: another contact's key is another key. Reused with other answers,
    it is refused."""
    earlier = (
        PendingRegistration.objects.filter(
            idempotency_key=key, contact__value_hash=blind_index("contact", contact)
        )
        .select_related("contact")
        .first()
    )
    if earlier is not None and earlier.request_hash != request_hash:
        raise DomainError(
            "idempotency_key_reused",
            _("This Idempotency-Key was already used for another request. Use a new key."),
            http_status=422,
        )
    return earlier


def replayed_start(
    *, window: Window, data: RegistrationInput, idempotency_key: str
) -> PendingRegistration | None:
    """The registration an earlier request with this key and these answers started, if any
    (checked before anything is spent on a retry: a proof of work is single use)."""
    answers = normalise_answers(data)
    return _replayed(idempotency_key, answers["contact"], _request_hash(window, answers))


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
    """Keep the answers (encrypted) and send a code to the contact, in one transaction: a
    refusal (limits, a locked contact) keeps nothing. Says nothing about whether the person or
    the contact is already known. A retry with the same `idempotency_key` and answers returns
    the first registration without sending another code."""
    answers = normalise_answers(data)
    request_hash = _request_hash(window, answers)
    if idempotency_key:
        earlier = _replayed(idempotency_key, answers["contact"], request_hash)
        if earlier is not None:
            return earlier
    check_window(window, answers)
    sending = {
        "kind": data.contact_kind,
        "value": answers["contact"],
        "client_ip": client_ip,
        "proof_ok": proof_ok,
        "language": language,
    }
    row = {
        "window": window,
        "payload": json.dumps(answers),
        "channel": channel,
        "request_hash": request_hash,
    }
    try:
        with transaction.atomic():
            if not idempotency_key:
                contact = otp.contact_with_code(**sending)
                return PendingRegistration.objects.create(contact=contact, **row)
            # With a key, the key's row is written before the code is sent: a retry running
            # alongside the first try waits on the unique key until the first commits, then
            # replays it (IntegrityError below) instead of meeting the contact's one-minute
            # cooldown. A refused code rolls the row back with the rest.
            contact = contacts.get_or_create_contact(kind=sending["kind"], value=sending["value"])
            pending = PendingRegistration.objects.create(
                contact=contact, idempotency_key=idempotency_key, **row
            )
            otp.contact_with_code(**sending)
            return pending
    except IntegrityError:
        # Only the idempotency key can conflict (the token is random): a concurrent try of
        # this request committed first, and its code is on the way.
        earlier = idempotency_key and _replayed(idempotency_key, answers["contact"], request_hash)
        if not earlier:
            raise
        return earlier


# --- Verify -----------------------------------------------------------------------------------


def _not_found() -> DomainError:
    return DomainError(
        "registration_not_found",
        _("This registration has expired. Please start again."),
        http_status=404,
    )


def _live_pending():
    return PendingRegistration.objects.filter(created_at__gt=Now() - PENDING_TTL)


def get_pending(token: str) -> PendingRegistration:
    """The live registration with this token, with its contact and the contact's device."""
    pending = _live_pending().select_related("contact__device", "entry").filter(token=token)
    pending = pending.first()
    if pending is None:
        raise _not_found()
    return pending


def verify_registration(*, pending: PendingRegistration, code: str) -> None:
    """Check the code sent for this registration and mark it verified; a wrong code's failure
    is counted (committed) before the refusal."""
    with transaction.atomic():
        # The pending row is locked before the code's audit row takes the chain's head, in the
        # order submit takes them: a verify and a submit of one registration cannot deadlock.
        list(PendingRegistration.objects.select_for_update().filter(pk=pending.pk).values("pk"))
        right = otp.check_code(contact=pending.contact, code=code)
        if right:
            pending.verified_at = audit.database_now()
            pending.save(update_fields=["verified_at"])
    if not right:
        raise otp.wrong_code()


# --- Submit -----------------------------------------------------------------------------------


def _locked_pending(lookup: dict) -> PendingRegistration:
    """The live registration, locked (concurrent submits of it queue here), with its window
    and contact."""
    pending = (
        _live_pending()
        .select_for_update(of=("self",))
        .select_related("window", "contact")
        .filter(**lookup)
        .first()
    )
    if pending is None:
        raise _not_found()
    return pending


def _refused_so_far(pending: PendingRegistration) -> int:
    attempt = DuplicateAttempt.objects.filter(contact=pending.contact, window=pending.window)
    return attempt.values_list("count", flat=True).first() or 0


def _count_duplicate(pending: PendingRegistration) -> None:
    attempt, created = DuplicateAttempt.objects.get_or_create(
        contact=pending.contact, window=pending.window, defaults={"count": 1}
    )
    if not created:
        DuplicateAttempt.objects.filter(pk=attempt.pk).update(count=F("count") + 1)
    audit.record(
        "entry.duplicate_refused",
        target=pending.contact,
        prefecture_id=pending.window.prefecture_id,
        actor="applicant",
    )


def _submittable(pending: PendingRegistration) -> tuple[dict, Procedure]:
    """The answers of a pending registration not registered yet, and its procedure; raises
    DomainError unless it may be submitted now."""
    if not pending.verified_at:
        raise DomainError("not_verified", _("Enter the code we sent you first."), http_status=403)
    answers = json.loads(pending.payload)
    return answers, check_window(pending.window, answers)


def _register(pending: PendingRegistration, answers: dict, procedure, language: str):
    """The entry of a verified registration (`enter_person`), marked on the registration; None
    if the person already holds an entry for the procedure."""
    entry = enter_person(
        window=pending.window,
        answers=answers,
        procedure=procedure,
        contact=pending.contact,
        channel=pending.channel,
        actor="applicant",
        language=language,
    )
    if entry is not None:
        pending.entry = entry
        pending.save(update_fields=["entry"])
    return entry


def submit_registration(
    *,
    pending: PendingRegistration | None = None,
    token: str | None = None,
    language: str = "fr",
) -> Entry:
    """Create the entry of a verified registration, given as `pending` or by its `token`.
    Repeating it returns the same entry. A duplicate person is refused (409) after the refusal
    is counted and audited."""
    lookup = {"pk": pending.pk} if pending is not None else {"token": token}
    with transaction.atomic():
        pending = _locked_pending(lookup)
        if pending.entry_id:
            entry = pending.entry
            entry.window = pending.window
            return entry
        answers, procedure = _submittable(pending)
        entry = _register(pending, answers, procedure, language)
        if entry is None:
            refused = _refused_so_far(pending)
            if refused < MAX_DUPLICATE_ANSWERS:
                _count_duplicate(pending)
    if entry is not None:
        return entry
    # After the commit: the refusal is counted and audited. Past the cap, a contact that keeps
    # trying people already registered is told only that it tried too often.
    if refused >= MAX_DUPLICATE_ANSWERS:
        raise Throttled(
            "too_many_duplicates", _("Too many refused registrations from this contact.")
        )
    raise already_registered()
