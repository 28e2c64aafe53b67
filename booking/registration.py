"""Registration: start (answers kept encrypted, code sent), verify (code), submit (entry).

One person, one entry: uniqueness rests on the person's blind index and the database
constraint `entry_one_active_per_person_procedure`, never on a check-then-insert. Duplicates are
only refused after the contact is verified, with a message that does not say which field
matched, and at most three times per verified contact and window.
"""

import copy
import json
import logging
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from functools import partial

from django.core import signing
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, OuterRef, Q, Subquery
from django.db.models.constants import OnConflict
from django.db.models.functions import Coalesce, Now
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import audit, otp
from accounts.crypto import blind_index
from accounts.inserts import insert_or_skip, insert_write, one_or_none
from accounts.models import (
    Contact,
    ContactCodeDevice,
    ContactKind,
    IdentityKind,
    OutboxMessage,
    Person,
)
from accounts.normalize import (
    NormalizationError,
    normalize_contact,
    normalize_foreign_number,
    normalize_name,
    normalize_passport,
)
from accounts.outbox import enqueue_message, kick_after_commit, message_write
from accounts.prepared import Joined, Prepared, PreparedUpdate
from accounts.together import From, Write, chain, chains
from booking.models import (
    MAX_ENTRIES_PER_CONTACT,
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
RECEIPT_SALT = "fairslot.receipt"
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
    if data.contact_kind not in ContactKind.values:
        raise FieldError("contact_kind", "contact_kind", _("Choose a phone or an e-mail."))
    contact = check("contact", partial(normalize_contact, data.contact_kind), data.contact)
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


def _open_now(path: str = "") -> Q:
    """The window (at `path`, e.g. "window__") is open now, by database time."""
    lookups = {"state": WindowState.OPEN, "opens_at__lte": Now(), "closes_at__gt": Now()}
    return Q(**{path + name: value for name, value in lookups.items()})


def _is_open(path: str = "") -> ExpressionWrapper:
    return ExpressionWrapper(_open_now(path), output_field=BooleanField())


def _open_procedures(rows) -> dict:
    """From rows ending in (window open now, procedure code, procedure id): the procedures by
    code if the window is open, else nothing (a window without procedures gives {None: None})."""
    return {code: pk for *_row, is_open, code, pk in rows if is_open}


# One query answers "open now, by database time?" and "which procedures?".
_OPEN_WINDOW_PROCEDURES = Prepared(
    lambda window_id: Window.objects.filter(_open_now(), pk=window_id).values_list(
        "procedures__code", "procedures__id"
    ),
    int,
)


def _check_window(window: Window, answers: dict) -> Procedure:
    """Refuse unless the window is open (by database time) and offers the chosen procedure,
    which is returned (only its id and code loaded). A window read by `window_by_code` or with
    a locked pending registration comes with its open procedures, read by the same statement;
    for others they are asked for."""
    procedures = getattr(window, "open_procedures", None)
    if procedures is None:
        procedures = dict(_OPEN_WINDOW_PROCEDURES.rows(window.pk))
    if not procedures:
        raise Conflict("window_closed", _("This registration window is closed."))
    if answers["procedure"] not in procedures:
        raise FieldError("procedure", "procedure", _("Choose a procedure of this window."))
    if answers["sites"]:
        known = set(
            Site.objects.filter(prefecture_id=window.prefecture_id).values_list("code", flat=True)
        )
        if not set(answers["sites"]) <= known:
            raise FieldError("sites", "sites", _("Choose sites of this prefecture."))
    if answers["birth_date"] > timezone.localdate().isoformat():
        raise FieldError("birth_date", "birth_date", _("The birth date is in the future."))
    code = answers["procedure"]
    return Procedure.from_db(Procedure.objects.db, ["id", "code"], [procedures[code], code])


_WINDOW = Joined(Window)
# One row per procedure of the window (one row of NULLs if it has none), each saying whether the
# window is open now, by database time.
_WINDOW_BY_CODE = Prepared(
    lambda code: (
        Window.objects.filter(code=code)
        .annotate(is_open=_is_open())
        .values_list(*_WINDOW.names(), "is_open", "procedures__code", "procedures__id")
    ),
    str,
)


# Open windows as this process read them a moment ago (code to (read until, window)), for the
# API's `start`, which checks again in its statement, by database time (`_window_open_for`).
_RECENT_WINDOWS: dict[str, tuple[float, Window]] = {}
RECENT_WINDOW_SECONDS = 10.0


def window_by_code(code: str, *, recent: bool = False) -> Window | None:
    """The window with this code, open or not (the service says which), or None. It comes with
    `open_procedures` (code to id; empty unless open now), which `start_registration` checks
    instead of asking again.

    `recent`: an open window that this process read less than RECENT_WINDOW_SECONDS ago may
    come instead, without a query (marked `recent`). Only `start_registration` takes such a
    window: it checks again, by database time, in the statement that writes (or, where there is
    no such statement, with a query first), so a window that has closed since is still
    refused."""
    if recent:
        kept = _RECENT_WINDOWS.get(code)
        if kept is not None and kept[0] > time.monotonic():
            window = copy.copy(kept[1])
            window.recent = True
            return window
    rows = _WINDOW_BY_CODE.rows(code)
    if not rows:
        _RECENT_WINDOWS.pop(code, None)
        return None
    (window,) = _WINDOW.split(rows[0][:-3])
    window.open_procedures = _open_procedures(rows)
    if window.open_procedures:
        _RECENT_WINDOWS[code] = (time.monotonic() + RECENT_WINDOW_SECONDS, copy.copy(window))
    else:
        _RECENT_WINDOWS.pop(code, None)
    return window


def _current(window: Window) -> Window:
    """The window as it is now (by database time), read again: a window that is gone is
    closed."""
    current = window_by_code(window.code)
    if current is None:
        raise Conflict("window_closed", _("This registration window is closed."))
    return current


# The SQL condition "this window still has this code, is open now, by database time, and
# offers this procedure".
_OPEN_FOR = Prepared(
    lambda window_id, code, procedure_id: Window.objects.filter(
        _open_now(), pk=window_id, code=code, procedures__id=procedure_id
    ).values_list("pk"),
    int,
    str,
    int,
)


def _window_open_for(window: Window, procedure: Procedure) -> Write:
    read = _OPEN_FOR.read(window.pk, window.code, procedure.pk)
    return Write(f"EXISTS ({read.sql})", read.params)


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
        existing = one_or_none(PendingRegistration.objects.filter(idempotency_key=idempotency_key))
        if existing is not None:
            return existing
    answers = _normalised(data)
    one_statement = chains() and not idempotency_key
    if getattr(window, "recent", False) and not one_statement:
        window = _current(window)  # no statement to check it again: ask the database now
    procedure = _check_window(window, answers)
    if one_statement:
        return _start_without_transaction(
            window, procedure, data, answers, client_ip, proof_ok, channel, language
        )
    # One transaction: if sending is refused (limits, lock), nothing of this request is kept.
    with transaction.atomic():
        contact = otp.get_or_create_contact(kind=data.contact_kind, value=answers["contact"])
        pending = PendingRegistration(
            window=window,
            contact=contact,
            payload=json.dumps(answers),
            channel=channel,
            idempotency_key=idempotency_key or None,
        )
        # Only the idempotency key can conflict (the token is random): a concurrent retry of
        # this request won, and its code is on the way.
        if not insert_or_skip(pending):
            return PendingRegistration.objects.get(idempotency_key=idempotency_key)
        otp.send_code(contact=contact, client_ip=client_ip, proof_ok=proof_ok, language=language)
    return pending


def _start_without_transaction(
    window: Window,
    procedure: Procedure,
    data: RegistrationInput,
    answers: dict,
    client_ip: str,
    proof_ok: bool,
    channel: str,
    language: str,
) -> PendingRegistration:
    """`start_registration` on PostgreSQL without an idempotency key: the sending limits first
    (in Redis: a refusal writes nothing), then one statement (`otp.contact_with_code`): the
    contact, known or new, its code with the audit row and the message, and the pending
    registration, which is written only if the code is, and none of it unless the window is
    open, by database time, and offers the procedure (the statement checks it: the window may
    have been read a moment ago, `window_by_code(recent=True)`). Otherwise (a locked contact, a
    device changed meanwhile, a race on a new contact) the usual way: the contact, then the
    code with the registration (`otp.issue_code`), a locked contact refused with nothing of this
    request kept but a new contact's rows, which say nothing. After the window's read (none for
    a window read a moment ago), one statement, no transaction."""
    otp.check_send_limits(
        kind=data.contact_kind,
        value_hash=blind_index("contact", answers["contact"]),
        client_ip=client_ip,
        proof_ok=proof_ok,
    )
    pending = PendingRegistration(window=window, payload=json.dumps(answers), channel=channel)

    def contact_with_code():
        return otp.contact_with_code(
            kind=data.contact_kind,
            value=answers["contact"],
            language=language,
            along=[
                insert_write(pending, links={"contact_id": From(otp.CODE_ISSUED, "contact_id")})
            ],
            only_if=_window_open_for(pending.window, procedure),
        )

    made = contact_with_code()
    if made is None:
        # Nothing written: the window closed or changed since it was read (ask now, by
        # database time: refused if closed), or a new contact was committed meanwhile.
        current = _current(window)
        now_offered = _check_window(current, answers)
        if (current.pk, now_offered.pk) != (window.pk, procedure.pk):
            pending.window, procedure = current, now_offered  # changed: once more, as it is
            made = contact_with_code()
    if made is None:  # a new contact committed meanwhile: read it
        made = otp.get_or_create_contact(kind=data.contact_kind, value=answers["contact"]), None
    pending.contact, pending.pk = made
    if pending.pk is not None:
        pending._state.adding, pending._state.db = False, DEFAULT_DB_ALIAS
        return pending
    otp.issue_code(contact=pending.contact, language=language, along=[insert_write(pending)])
    return pending


def _live_pending():
    return PendingRegistration.objects.filter(created_at__gt=Now() - PENDING_TTL)


def _not_found() -> DomainError:
    return DomainError(
        "registration_not_found",
        _("This registration has expired. Please start again."),
        http_status=404,
    )


# Only what verify needs; the window and the entry load on use (the entry only exists once
# registered), and so do the answers and the contact's address, which would be decrypted for
# nothing (the code's check needs neither).
_FOR_VERIFY = Joined(
    PendingRegistration,
    ("contact", Contact),
    ("contact__device", ContactCodeDevice),
    omit={PendingRegistration: {"payload"}, Contact: {"value"}},
)
_PENDING_BY_TOKEN = Prepared(
    lambda token: _live_pending().filter(token=token).values_list(*_FOR_VERIFY.names())[:1], str
)


def get_pending(token: str) -> PendingRegistration:
    rows = _PENDING_BY_TOKEN.rows(token)
    if not rows:
        raise _not_found()
    pending, contact, device = _FOR_VERIFY.split(rows[0])
    if device is not None:
        contact.device = device
    pending.contact = contact
    return pending


_PENDING_VERIFIED = PreparedUpdate(
    lambda pk, now: (PendingRegistration.objects.filter(pk=pk), {"verified_at": now}),
    int,
    datetime,
)
_PENDING_REGISTERED = PreparedUpdate(
    lambda pk, entry_pk: (PendingRegistration.objects.filter(pk=pk), {"entry_id": entry_pk}),
    int,
    int,
)


def verify_registration(*, pending: PendingRegistration, code: str) -> None:
    # The pending registration is marked with the code spent, all or nothing (one statement on
    # PostgreSQL); a wrong code's failure count is committed before the refusal.
    now = timezone.now()
    right = otp.check_code(
        contact=pending.contact, code=code, along=[_PENDING_VERIFIED.write(pending.pk, now)]
    )
    if not right:
        raise otp.wrong_code()
    pending.verified_at = now


def _new_person(answers: dict) -> Person:
    return Person(
        kind=answers["identity_kind"],
        identity_hash=answers["identity_hash"],
        likeness_hash=answers["likeness_hash"],
        identifier=answers["identifier"],
        given_names=answers["given_names"],
        family_name=answers["family_name"],
        birth_date=answers["birth_date"],
        nationality=answers["nationality"],
    )


def _person_id(answers: dict) -> int:
    person = _new_person(answers)
    if insert_or_skip(person):
        return person.pk
    # Known already, or registered at this instant by another request (which we waited for).
    return Person.objects.filter(identity_hash=answers["identity_hash"]).values_list(
        "pk", flat=True
    )[0]


def initial_tier(window: Window, permit_expires_on: str | None, urgent_approved=False) -> int:
    """Tier 0 for urgent cases: permit expired or expiring within the window's urgency days."""
    if urgent_approved:
        return 0
    if permit_expires_on:
        limit = window.closes_at.date() + timedelta(days=window.urgency_days)
        return 0 if date.fromisoformat(permit_expires_on) <= limit else 1
    return 1


def _contact_full() -> Conflict:
    return Conflict(
        "contact_full",
        _("This phone or e-mail already has the maximum number of registrations (3)."),
    )


def _next_seat(contact: Contact, person_id: int, procedure: Procedure) -> int | None:
    """After a conflict: the first free seat of the contact, or None if the person already has
    an active entry for the procedure. A full contact is refused before duplicates are looked
    at, so that it learns nothing about other people."""
    rows = list(
        Entry.objects.filter(
            Q(contact=contact) | Q(person_id=person_id, procedure=procedure),
            active=True,
        ).values_list("contact_id", "contact_seat", "person_id", "procedure_id")
    )
    taken = {seat for contact_id, seat, _p, _r in rows if contact_id == contact.pk}
    free = [seat for seat in range(1, MAX_ENTRIES_PER_CONTACT + 1) if seat not in taken]
    if not free:
        raise _contact_full()
    if any(p == person_id and r == procedure.pk for _c, _s, p, r in rows):
        return None
    return free[0]


def _new_entry(
    pending: PendingRegistration, answers: dict, person_id, procedure: Procedure, seat: int
) -> Entry:
    window = pending.window
    return Entry(
        window=window,
        procedure=procedure,
        person_id=person_id,
        contact=pending.contact,
        contact_seat=seat,
        channel=pending.channel,
        excluded_weekdays=answers["excluded_weekdays"],
        permit_expires_on=answers["permit_expires_on"],
        tier=initial_tier(window, answers["permit_expires_on"]),
    )


def _with_sites(entry: Entry, answers: dict) -> Entry:
    if answers["sites"]:
        entry.sites.add(
            *Site.objects.filter(
                prefecture_id=entry.window.prefecture_id, code__in=answers["sites"]
            )
        )
    return entry


def _create_entry(
    pending: PendingRegistration, answers: dict, person_id: int, procedure: Procedure, seat=1
) -> Entry | None:
    """Insert the entry in the first free contact seat. None means: a duplicate person.

    The constraints decide: the insert tries `seat` (1 first: most contacts hold one entry)
    and inserts nothing on a conflict; only then do we read which seats are taken and whether
    the person is already registered, and try again."""
    for _attempt in range(MAX_ENTRIES_PER_CONTACT + 1):
        entry = _new_entry(pending, answers, person_id, procedure, seat)
        if insert_or_skip(entry):
            return _with_sites(entry, answers)
        seat = _next_seat(pending.contact, person_id, procedure)
        if seat is None:
            return None
    raise _contact_full()


_PERSON_BY_IDENTITY = Prepared(
    lambda identity_hash: Person.objects.filter(identity_hash=identity_hash).values_list("pk"),
    str,
)


def _fetch_all(cursor) -> list:
    return cursor.fetchall()


# The entry (and its procedure) only exist on a repeated submit: loaded then, on use.
_FOR_SUBMIT = Joined(PendingRegistration, ("window", Window), ("contact", Contact))


def _for_submit(lock: bool, **lookup):
    """The pending registration (locked, or not), with its window, contact, refused duplicates,
    and the window's procedures each with whether the window is open now by database time: one
    row per procedure, one of NULLs if it has none."""
    refused = DuplicateAttempt.objects.filter(
        contact=OuterRef("contact"), window=OuterRef("window")
    ).values("count")[:1]
    pendings = _live_pending()
    if lock:
        pendings = pendings.select_for_update(of=("self",))
    return (
        pendings.annotate(
            refused=Coalesce(Subquery(refused), 0),
            is_open=_is_open("window__"),
        )
        .filter(**lookup)
        .values_list(
            *_FOR_SUBMIT.names(),
            "refused",
            "is_open",
            "window__procedures__code",
            "window__procedures__id",
        )
    )


_FOR_SUBMIT_BY = {
    (key, lock): Prepared(
        partial(lambda key, lock, value: _for_submit(lock, **{key: value}), key, lock), kind
    )
    for key, kind in (("pk", int), ("token", str))
    for lock in (True, False)
}


def _pending_for_submit(lock: bool, **lookup) -> PendingRegistration:
    ((key, value),) = lookup.items()
    rows = _FOR_SUBMIT_BY[key, lock].rows(value)
    if not rows:
        raise _not_found()
    pending, window, contact = _FOR_SUBMIT.split(rows[0][:-4])
    pending.window, pending.contact, pending.refused = window, contact, rows[0][-4]
    window.open_procedures = _open_procedures(rows)
    return pending


def _submittable(pending: PendingRegistration) -> tuple[dict, Procedure]:
    """The answers of a pending registration not registered yet, and its procedure; raises
    DomainError unless it may be submitted now."""
    if not pending.verified_at:
        raise DomainError("not_verified", _("Enter the code we sent you first."), http_status=403)
    answers = json.loads(pending.payload)
    procedure = _check_window(pending.window, answers)
    if pending.refused >= MAX_DUPLICATE_ANSWERS:
        raise Throttled(
            "too_many_duplicates", _("Too many refused registrations from this contact.")
        )
    return answers, procedure


def _count_duplicate(pending: PendingRegistration) -> None:
    first = DuplicateAttempt(contact=pending.contact, window=pending.window, count=1)
    if not insert_or_skip(first):
        DuplicateAttempt.objects.filter(contact=pending.contact, window=pending.window).update(
            count=F("count") + 1
        )
    audit.record(
        "entry.duplicate_refused",
        target=pending.contact,
        prefecture_id=pending.window.prefecture_id,
    )


def submit_registration(
    *,
    pending: PendingRegistration | None = None,
    token: str | None = None,
    language: str = "fr",
) -> Entry:
    """Create the entry of a verified registration, given as `pending` or by its `token`.
    Repeating it returns the same entry.

    On PostgreSQL the usual case (a new entry in the contact's first seat, no site preference)
    is one read and one statement (`_submit_in_one_statement`); every other case, and any
    doubt, goes the locked way (`_submit_locked`), which decides on the locked row."""
    lookup = {"pk": pending.pk} if pending is not None else {"token": token}
    if chains():
        entry = _submit_in_one_statement(lookup, language)
        if entry is not None:
            return entry
    return _submit_locked(lookup, language)


def _claim(pending_pk: int) -> Write:
    """Lock the pending registration if it is not registered yet (no row otherwise): the
    first part of `_submit_in_one_statement`, so that concurrent submits of one registration
    queue here as on the locked way, and the one that comes second finds it registered."""
    meta, quote = PendingRegistration._meta, connection.ops.quote_name
    table, pk, entry = (quote(name) for name in (meta.db_table, meta.pk.column, "entry_id"))
    return Write(
        f"SELECT {pk} FROM {table} WHERE {pk} = %s AND {entry} IS NULL FOR UPDATE",  # noqa: S608
        [pending_pk],
    )


def _submit_in_one_statement(lookup: dict, language: str) -> Entry | None:
    """The entry made in one statement, all of it or nothing (`accounts.together.chain`): the
    pending registration claimed (`_claim`), the person inserted unless known, the entry in
    seat 1, the pending registration marked, the audit row and the receipt's message. None:
    nothing was written for the entry (already registered, seat 1 taken, a duplicate person, a
    race, sites to add); the caller then goes the locked way. Refusals raise as there."""
    pending = _pending_for_submit(lock=False, **lookup)
    if pending.entry_id:
        return None
    answers, procedure = _submittable(pending)
    if answers["sites"]:
        return None  # the sites' rows go with the entry on the locked way
    person = _new_person(answers)
    entry = _new_entry(pending, answers, None, procedure, seat=1)
    known = _PERSON_BY_IDENTITY.read(answers["identity_hash"])
    rows = chain(
        _claim(pending.pk),
        replace(insert_write(person, OnConflict.IGNORE), after=(0,)),
        Write(f"SELECT id FROM w1 UNION ALL {known.sql}", known.params),  # noqa: S608
        replace(insert_write(entry, OnConflict.IGNORE, links={"person_id": From(2)}), after=(0,)),
        _PENDING_REGISTERED.write(pending.pk, From(3)),
        _registered_event(pending, entry, links={"target_id": From(3)}),
        replace(
            message_write(OutboxMessage(**_receipt(entry, pending.contact, language))), after=(3,)
        ),
        final=Write("SELECT w3.id, w3.active, w2.id FROM w3, w2", [], _fetch_all),
    )
    if not rows:
        return None
    ((entry.pk, entry.active, entry.person_id),) = rows
    entry._state.adding, entry._state.db = False, DEFAULT_DB_ALIAS
    kick_after_commit()
    return entry


def _registered_event(pending: PendingRegistration, entry: Entry, links=None) -> Write:
    return audit.write(
        "entry.registered",
        links=links,
        target=entry,
        prefecture_id=pending.window.prefecture_id,
        entry_id=entry.entry_id,
        channel=entry.channel,
    )


def _submit_locked(lookup: dict, language: str) -> Entry:
    with transaction.atomic():
        pending = _pending_for_submit(lock=True, **lookup)  # concurrent submits queue here
        if pending.entry_id:
            pending.entry.window = pending.window
            return pending.entry
        answers, procedure = _submittable(pending)
        entry = _create_entry(pending, answers, _person_id(answers), procedure)
        if entry is None:
            _count_duplicate(pending)
        else:
            # The pending registration's mark and the audit row go with the receipt's message.
            registered = [
                _PENDING_REGISTERED.write(pending.pk, entry.pk),
                _registered_event(pending, entry),
            ]
            enqueue_message(**_receipt(entry, pending.contact, language), along=registered)
    if entry is None:  # after the commit: the refusal is counted and audited
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


def _receipt(entry: Entry, contact: Contact, language: str) -> dict:
    """The receipt's message (an SMS or e-mail) to `contact`, as OutboxMessage's fields."""
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
    return {
        "channel": contact.kind,
        "recipient": contact.value,
        "body": body,
        "subject": "Fairslot",
        "dedup_key": f"receipt:{entry.entry_id}",
    }
