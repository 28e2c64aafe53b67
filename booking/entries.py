"""Entries: the one way a person gets an entry in a window, for the web form and the API (after
the contact's code, booking.registration), the counter (booking.counter) and association
helpers (booking.helpers). One person, one entry per procedure: the database constraint
`entry_one_active_per_person_procedure` decides, never a check alone; at most three entries per
contact (a seat under a unique constraint)."""

from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.contacts import remember_language
from accounts.models import Contact, Person
from accounts.outbox import enqueue_message
from booking.models import (
    MAX_ENTRIES_PER_CONTACT,
    DuplicateFlag,
    Entry,
    Procedure,
    Site,
    Window,
)
from booking.receipts import receipt_message
from config.errors import Busy, Conflict


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


def already_registered() -> Conflict:
    return Conflict(
        "already_registered",
        _(
            "A registration already exists for this person and procedure. "
            "If you think this is a mistake, go to the prefecture's counter."
        ),
    )


def _person(answers: dict) -> Person:
    """The person with this identity, created if new (a concurrent creation is read)."""
    values = {
        "kind": answers["identity_kind"],
        "likeness_hash": answers["likeness_hash"],
        "identifier": answers["identifier"],
        "given_names": answers["given_names"],
        "family_name": answers["family_name"],
        "birth_date": answers["birth_date"],
        "nationality": answers["nationality"],
    }
    person, _created = Person.objects.get_or_create(
        identity_hash=answers["identity_hash"], defaults=values
    )
    return person


def _free_seat(contact: Contact) -> int:
    """The contact's first free seat, or refuse. Its row is locked first: seats are counted
    and taken one registration at a time."""
    list(Contact.objects.select_for_update().filter(pk=contact.pk).values_list("pk"))
    taken = set(
        Entry.objects.filter(contact=contact, active=True).values_list("contact_seat", flat=True)
    )
    free = [seat for seat in range(1, MAX_ENTRIES_PER_CONTACT + 1) if seat not in taken]
    if not free:
        raise _contact_full()
    return free[0]


def _insert_entry(window, answers, person, procedure, **source) -> Entry | None:
    """The entry, or None if the person already holds one for the procedure (the constraint
    decides, also against a concurrent registration through another contact). `source`: its
    contact, contact_seat, channel and registered_by."""
    try:
        with transaction.atomic():
            return Entry.objects.create(
                window=window,
                procedure=procedure,
                person=person,
                excluded_weekdays=answers["excluded_weekdays"],
                permit_expires_on=answers["permit_expires_on"],
                tier=initial_tier(window, answers["permit_expires_on"]),
                **source,
            )
    except IntegrityError:
        if Entry.objects.filter(person=person, procedure=procedure, active=True).exists():
            return None
        # A seat taken meanwhile by another path (a carried entry): the client may retry.
        raise Busy(
            "busy", _("The service is busy. Please try again in a moment."), retry_after=2
        ) from None


def _flag_likeness(entry: Entry, person: Person, prefecture_id: int, actor) -> None:
    """Flag for review (never refuse, never say) people with the same names, birth date and
    nationality under another document number."""
    similar = Person.objects.filter(likeness_hash=person.likeness_hash).exclude(pk=person.pk)
    flags = [
        DuplicateFlag(entry=entry, similar_person_id=pk)
        for pk in similar.values_list("pk", flat=True)
    ]
    if flags:
        DuplicateFlag.objects.bulk_create(flags)
        audit.record(
            "entry.flagged_similar",
            target=entry,
            prefecture_id=prefecture_id,
            actor=actor,
            similar=len(flags),
        )


def enter_person(
    *,
    window: Window,
    answers: dict,
    procedure: Procedure,
    contact: Contact | None,
    channel: str,
    actor,
    language: str,
) -> Entry | None:
    """The entry of a person, inside the caller's transaction, from answers normalised by
    `normalise_answers` for a window and procedure checked by `check_window`: a seat on
    `contact` if there is one, the entry, its sites, its likeness flags, its audit row naming
    `actor` ("applicant", or the staff user who registers the person: then `registered_by`)
    and its receipt to the contact. None if the person already holds an entry for the
    procedure. Web, API, counter and helpers all register through here."""
    # A full contact is refused before duplicates are looked at: it learns nothing of others.
    seat = _free_seat(contact) if contact is not None else None
    # The constraint finds a duplicate person (_insert_entry): no check before the insert.
    person = _person(answers)
    staff = actor if getattr(actor, "pk", None) else None
    entry = _insert_entry(
        window,
        answers,
        person,
        procedure,
        contact=contact,
        contact_seat=seat,
        channel=channel,
        registered_by=staff,
    )
    if entry is None:
        return None
    if answers["sites"]:
        prefecture_sites = Site.objects.filter(prefecture_id=window.prefecture_id)
        entry.sites.add(*prefecture_sites.filter(code__in=answers["sites"]))
    _flag_likeness(entry, person, window.prefecture_id, actor)
    audit.record(
        "entry.registered",
        target=entry,
        prefecture_id=window.prefecture_id,
        actor=actor,
        entry_id=entry.entry_id,
        channel=entry.channel,
    )
    if contact is not None:
        remember_language(contact, language, actor=actor)
        enqueue_message(**receipt_message(entry, contact, contact.language))
    return entry
