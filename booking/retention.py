"""Retention: personal data is erased once its purpose is over (`purge`, daily, by the Celery
task `booking.tasks.purge_expired_data`). docs/retention.md says the same for operators.

What is erased is personal data: a person's identity (names, birth date, document number,
nationality), a contact's phone or e-mail, the recipients and bodies of the messages written to
them, and registrations never completed. The pseudonymous rows the draw published, or needs to
be checked again, stay as they are: entries (their `entry_id`, tier, weight, sites, weekdays,
status, rank), slots, appointments, draws and the audit log. An erased person or contact keeps
its row, so entries still point to it; nothing the frozen-input triggers protect
(lottery migration 0005: slots, entries' draw inputs, their sites) is written.

The rules, with `now` the purge's time (`limit` means: strictly before now minus the delay):

(a) One-time codes, 24 h after they expire: a code's keyed hash on its device (`token`) is
    cleared once `valid_until` is more than 24 h ago; the code's message (dedup key `otp:...`,
    whose body holds the code) is deleted once its `expires_at` is more than 24 h ago; a
    registration started but never completed (`PendingRegistration`, whose answers hold the
    identity typed) is deleted 24 h after it can no longer be completed (PENDING_TTL).

(b) Entries that got no slot. An entry "got a slot" if it has an appointment in a holding
    state (offered, confirmed, checked in, no-show); one that was declined, lapsed or
    cancelled holds nothing. An entry that got no slot is over 2 months and 15 days after its
    window's draw ran (`Draw.drawn_at`), whatever its status (waiting, expired, withdrawn,
    carried...). A person's identity is erased when every entry of theirs got no slot and is
    over: a newer entry (in a window not drawn yet, or drawn less than 2 months 15 days ago)
    keeps it, and so does any entry that ever got a slot (their identity is then kept for the
    check-in records and the absence rule, outside this purge). An entry in a window never
    drawn keeps its person.

(c) Contact data. An entry that got a slot is over 2 months after its appointment's time (the
    slot's `starts_at`). A contact (phone or e-mail) is erased when every entry registered
    with it is over, by (b) for those that got no slot and by this rule for those that did,
    and nothing of it is live: no registration started within PENDING_TTL and no code issued
    within 24 h. The contact's messages lose their recipient and body at the same time, and any
    not delivered yet is marked expired (never sent). A contact without any entry is left
    alone (its codes follow rule (a)).

Erasing writes an empty value in each encrypted field (each one encrypted on its own) and
replaces the unique blind index by "erased:<pk>": the same person or phone registering again
later is a new person or contact, with nothing carried over. The marker also makes the purge
idempotent: a second run finds nothing left (every count 0). The decisions are made by the
database from the rows as they are; the candidates' rows are locked, then checked again,
before they are written, so a registration committed meanwhile keeps its person or contact.
"""

import calendar
import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts import audit
from accounts.models import Contact, ContactCodeDevice, OutboxMessage, OutboxState, Person, User
from booking import own_data
from booking.models import HOLDING_STATES, Appointment, Entry, PendingRegistration
from booking.registration import PENDING_TTL

logger = logging.getLogger(__name__)

CODE_GRACE = timedelta(hours=24)
NO_SLOT_MONTHS, NO_SLOT_DAYS = 2, 15
SLOT_MONTHS = 2
ERASED = "erased:"
BATCH = 500
PERSON_FIELDS = [
    "identifier",
    "given_names",
    "family_name",
    "birth_date",
    "nationality",
    "likeness_hash",
    "identity_hash",
]
COUNT_NAMES = (
    "codes",
    "code_messages",
    "pending_registrations",
    "identities",
    "contacts",
    "contact_messages",
)


def months_before(moment: datetime, months: int) -> datetime:
    """`moment` minus calendar months, the day clamped to the target month's length."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def limits(now: datetime) -> dict[str, datetime]:
    return {
        "code": now - CODE_GRACE,
        "pending": now - PENDING_TTL - CODE_GRACE,
        "started": now - PENDING_TTL,
        "drawn": months_before(now, NO_SLOT_MONTHS) - timedelta(days=NO_SLOT_DAYS),
        "slot": months_before(now, SLOT_MONTHS),
    }


# --- Which entries are over -------------------------------------------------------------------


def _holding(**slot_filter) -> Exists:
    return Exists(
        Appointment.objects.filter(entry_id=OuterRef("pk"), state__in=HOLDING_STATES, **slot_filter)
    )


def _not_drawn_before(moment: datetime) -> Q:
    return (
        Q(window__draw__isnull=True)
        | Q(window__draw__drawn_at__isnull=True)
        | Q(window__draw__drawn_at__gte=moment)
    )


def _live_entries(limit: dict, *, with_slot_rule: bool):
    """Entries not over yet. Without the slot rule (people, rule b), any entry that got a slot
    keeps its person; with it (contacts, rule c), one whose appointment time is recent."""
    no_slot_live = ~_holding() & _not_drawn_before(limit["drawn"])
    slot_live = _holding(slot__starts_at__gte=limit["slot"]) if with_slot_rule else _holding()
    return Entry.objects.filter(no_slot_live | slot_live)


def people_to_erase(limit: dict):
    live = _live_entries(limit, with_slot_rule=False).filter(person_id=OuterRef("pk"))
    return (
        Person.objects.exclude(identity_hash__startswith=ERASED)
        .filter(Exists(Entry.objects.filter(person_id=OuterRef("pk"))))
        .exclude(Exists(live))
    )


def contacts_to_erase(limit: dict):
    live = _live_entries(limit, with_slot_rule=True).filter(contact_id=OuterRef("pk"))
    started = PendingRegistration.objects.filter(
        contact_id=OuterRef("pk"), created_at__gte=limit["started"]
    )
    return (
        Contact.objects.exclude(value_hash__startswith=ERASED)
        .filter(Exists(Entry.objects.filter(contact_id=OuterRef("pk"))))
        .exclude(Exists(live))
        .exclude(Exists(started))
        .exclude(device__valid_until__gte=limit["code"])
    )


# --- Rule (a): codes and unfinished registrations ---------------------------------------------


def _purge_codes(limit: dict) -> dict[str, int]:
    with transaction.atomic():
        codes = ContactCodeDevice.objects.filter(
            token__isnull=False, valid_until__lt=limit["code"]
        ).update(token=None)
        code_messages, _by_model = OutboxMessage.objects.filter(
            dedup_key__startswith="otp:", expires_at__lt=limit["code"]
        ).delete()
        pending, _by_model = PendingRegistration.objects.filter(
            created_at__lt=limit["pending"]
        ).delete()
    return {"codes": codes, "code_messages": code_messages, "pending_registrations": pending}


# --- Rule (b): identities ---------------------------------------------------------------------


def _chunks(pks: list[int]):
    for start in range(0, len(pks), BATCH):
        yield pks[start : start + BATCH]


def _erase_people(limit: dict) -> int:
    erased = 0
    for chunk in _chunks(list(people_to_erase(limit).values_list("pk", flat=True))):
        with transaction.atomic():
            # Locked first (an entry inserted for one of them waits), then checked again.
            list(Person.objects.select_for_update().filter(pk__in=chunk).values_list("pk"))
            people = list(people_to_erase(limit).filter(pk__in=chunk).only("pk"))
            for person in people:
                person.identifier = person.given_names = ""
                person.family_name = person.birth_date = ""
                person.nationality = person.likeness_hash = ""
                person.identity_hash = f"{ERASED}{person.pk}"
            Person.objects.bulk_update(people, PERSON_FIELDS)
        erased += len(people)
    return erased


# --- Rule (c): contacts -----------------------------------------------------------------------


def _erase_contact_messages(contacts: list[Contact]) -> int:
    messages = []
    for contact in contacts:
        entries = list(Entry.objects.filter(contact_id=contact.pk).only("pk", "entry_id"))
        query = own_data.messages_query(contact, entries).only("pk", "state")
        messages.extend(query)
    for message in messages:
        message.recipient = message.body = ""
        if message.state in (OutboxState.PENDING, OutboxState.SENDING):
            message.state = OutboxState.EXPIRED
    OutboxMessage.objects.bulk_update(messages, ["recipient", "body", "state"], batch_size=BATCH)
    return len(messages)


def _erase_contacts(limit: dict) -> tuple[int, int]:
    erased = messages = 0
    for chunk in _chunks(list(contacts_to_erase(limit).values_list("pk", flat=True))):
        with transaction.atomic():
            # Locked first (a registration's insert naming one of them waits), then checked
            # again.
            list(Contact.objects.select_for_update().filter(pk__in=chunk).values_list("pk"))
            contacts = list(
                contacts_to_erase(limit)
                .filter(pk__in=chunk)
                .select_related("device")
                .defer("value")
            )
            messages += _erase_contact_messages(contacts)
            for contact in contacts:
                contact.value = ""
                contact.value_hash = f"{ERASED}{contact.pk}"
            Contact.objects.bulk_update(contacts, ["value", "value_hash"])
            pks = [contact.pk for contact in contacts]
            ContactCodeDevice.objects.filter(contact_id__in=pks).update(token=None)
            PendingRegistration.objects.filter(contact_id__in=pks).delete()
            # The user's name is derived from the contact's blind index: renamed, so that the
            # same phone or e-mail can log in again, as a new contact.
            for contact in contacts:
                User.objects.filter(pk=contact.user_id).update(username=f"erased-c{contact.pk}")
        erased += len(contacts)
    return erased, messages


# --- The purge --------------------------------------------------------------------------------


def purge(now: datetime | None = None) -> dict[str, int]:
    """Apply the retention rules at `now` (default: the current time) and return how many rows
    each erased (COUNT_NAMES), with one audit row `retention.purged` giving the counts. Safe to
    run again, or twice at once: a second run counts 0."""
    limit = limits(now or timezone.now())
    counts = dict.fromkeys(COUNT_NAMES, 0)
    counts.update(_purge_codes(limit))
    counts["identities"] = _erase_people(limit)
    counts["contacts"], counts["contact_messages"] = _erase_contacts(limit)
    with transaction.atomic():
        audit.record(
            "retention.purged", **counts, limits={k: v.isoformat() for k, v in limit.items()}
        )
    if any(counts.values()):
        logger.info("retention purge: %s", counts)
    return counts
