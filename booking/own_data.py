"""The applicant's own data: everything held on them (`export`), and the withdrawal of one of
their entries (`withdraw`).

The applicant is the contact they logged in with (a phone or an e-mail, `booking.views
.APPLICANT_KEY`): the export covers that contact, every entry registered with it and the
identity of each person entered (a contact holds up to three entries, for a family), the
appointments of those entries and the messages written to that contact. What the applicant is
not told yet stays hidden as on "My entries": an outcome (status, rank, appointments) before its
draw is published. A code still valid is not shown again.

Messages carry no foreign key to their contact: they are found by their `dedup_key`, which
names what they are about (see `messages_query`).

A withdrawal is the applicant's own, before the freeze only: while the window is open (by
database time) and the entry pending or registered. It frees the person's place for the
procedure and the contact's seat (both rest on the generated `active` column), so the same
person may register again in the window. The draw inputs of a frozen window can no longer
change at all (lottery migration 0005).
"""

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.models import Contact, OutboxMessage
from booking.duplicates import WITHDRAWABLE
from booking.models import Appointment, Entry, EntryStatus, WindowState
from config.errors import Conflict, DomainError

# The applicant sees an outcome once its draw is published (as on "My entries").
UNTOLD_STATES = [WindowState.DRAWN]
HIDDEN_OUTCOME = "draw_being_checked"


def _not_found() -> DomainError:
    return DomainError("not_found", _("No such entry."), http_status=404)


# --- Export -----------------------------------------------------------------------------------


def _entries(contact_id: int) -> list[Entry]:
    return list(
        Entry.objects.filter(contact_id=contact_id)
        .select_related("window__prefecture", "procedure", "person")
        .prefetch_related("sites")
        .order_by("created_at", "pk")
    )


def _identity(person) -> dict:
    return {
        "kind": person.kind,
        "kind_label": str(person.get_kind_display()),
        "identifier": person.identifier,
        "family_name": person.family_name,
        "given_names": person.given_names,
        "birth_date": person.birth_date,
        "nationality": person.nationality,
        "registered_at": person.created_at,
    }


def _entry(entry: Entry) -> dict:
    told = entry.window.state not in UNTOLD_STATES
    return {
        "reference": entry.pseudonym,
        "entry_id": entry.entry_id,
        "window": {
            "code": entry.window.code,
            "title": entry.window.title,
            "prefecture": entry.window.prefecture.name,
            "opens_at": entry.window.opens_at,
            "closes_at": entry.window.closes_at,
        },
        "procedure": {"code": entry.procedure.code, "name": entry.procedure.name},
        "status": entry.status if told else HIDDEN_OUTCOME,
        "status_label": str(entry.get_status_display() if told else _("Draw being checked")),
        "rank": entry.rank if told else None,
        "tier": entry.tier,
        "weight": entry.weight,
        "urgent_approved": entry.urgent_approved,
        "permit_expires_on": entry.permit_expires_on,
        "sites": [{"code": site.code, "name": site.name} for site in entry.sites.all()],
        "excluded_weekdays": [int(day) for day in entry.excluded_weekdays],
        "channel": entry.channel,
        "channel_label": str(entry.get_channel_display()),
        "created_at": entry.created_at,
        "identity": _identity(entry.person),
    }


def _appointments(contact_id: int) -> list[dict]:
    rows = (
        Appointment.objects.filter(
            entry__contact_id=contact_id, entry__window__state=WindowState.PUBLISHED
        )
        .select_related("entry", "slot__site", "slot__procedure")
        .order_by("slot__starts_at", "pk")
    )
    return [
        {
            "reference": appointment.entry.pseudonym,
            "starts_at": appointment.slot.starts_at,
            "site": {
                "code": appointment.slot.site.code,
                "name": appointment.slot.site.name,
                "address": appointment.slot.site.address,
            },
            "procedure": appointment.slot.procedure.name,
            "state": appointment.state,
            "state_label": str(appointment.get_state_display()),
            "offered_at": appointment.offered_at,
            "respond_by": appointment.respond_by,
            "checked_in_at": appointment.checked_in_at,
        }
        for appointment in rows
    ]


# The messages written to a contact, by the kind of thing their dedup key names. A new kind of
# message must be added here, or the export and the purge (booking.retention) miss it.
ENTRY_MESSAGES = ("receipt", "outcome", "duplicate-withdrawn")  # "<kind>:<entry_id>"
APPOINTMENT_MESSAGES = ("offer", "cancel")  # "<kind>:<appointment pk>"
APPOINTMENT_MESSAGES_WITH_DETAIL = ("answer", "reminder")  # "<kind>:<detail>:<appointment pk>"


def messages_query(contact: Contact, entries: list[Entry]):
    """The messages written to `contact` (they have no foreign key to it), found by their
    `dedup_key`: its codes (`otp:<device>:<n>`), and for its `entries` the receipt, the outcome,
    a duplicate withdrawal, and the offers, answers, reminders and cancellations of their
    appointments."""
    match = Q(dedup_key__in=[f"{k}:{e.entry_id}" for e in entries for k in ENTRY_MESSAGES])
    appointment_pks = list(
        Appointment.objects.filter(entry__in=[e.pk for e in entries]).values_list("pk", flat=True)
    )
    if appointment_pks:
        pks = "|".join(str(pk) for pk in appointment_pks)
        match |= Q(dedup_key__regex=rf"^({'|'.join(APPOINTMENT_MESSAGES)}):({pks})$")
        match |= Q(
            dedup_key__regex=rf"^({'|'.join(APPOINTMENT_MESSAGES_WITH_DETAIL)}):[^:]+:({pks})$"
        )
    device = getattr(contact, "device", None)
    if device is not None:
        match |= Q(dedup_key__startswith=f"otp:{device.pk}:")
    return OutboxMessage.objects.filter(match)


def _messages(contact: Contact, entries: list[Entry]) -> list[dict]:
    now = timezone.now()
    rows = []
    for message in messages_query(contact, entries).order_by("created_at", "pk"):
        live_code = message.dedup_key.startswith("otp:") and (
            message.expires_at is None or message.expires_at > now
        )
        rows.append(
            {
                "created_at": message.created_at,
                "sent_at": message.sent_at,
                "channel": message.channel,
                "state": message.state,
                "subject": message.subject,
                "body": str(_("(a code still valid: not shown again)"))
                if live_code
                else message.body,
            }
        )
    return rows


def collect(contact_id: int) -> dict:
    """Everything held on the applicant of `contact_id`, decrypted: plain values, dates and
    times (DjangoJSONEncoder writes them in ISO 8601). Reads only; `export` records the read."""
    contact = Contact.objects.select_related("device").filter(pk=contact_id).first()
    if contact is None:
        raise DomainError("not_found", _("No such contact."), http_status=404)
    entries = _entries(contact_id)
    return {
        "generated_at": timezone.now(),
        "contact": {
            "kind": contact.kind,
            "kind_label": str(contact.get_kind_display()),
            "value": contact.value,
            "language": contact.language,
            "verified_at": contact.verified_at,
            "created_at": contact.created_at,
        },
        "entries": [_entry(entry) for entry in entries],
        "appointments": _appointments(contact_id),
        "messages": _messages(contact, entries),
    }


def export(contact_id: int) -> dict:
    """`collect`, with an audit row `own_data.exported` (actor "applicant", no personal data)."""
    with transaction.atomic():
        data = collect(contact_id)
        audit.record(
            "own_data.exported",
            actor="applicant",
            target=Contact(pk=contact_id),
            entries=len(data["entries"]),
        )
    return data


# --- Withdrawal -------------------------------------------------------------------------------


def withdrawable() -> Q:
    """Entries their applicant may still withdraw: pending or registered, in a window open by
    database time and not frozen."""
    return Q(
        status__in=WITHDRAWABLE,
        window__state=WindowState.OPEN,
        window__frozen_at__isnull=True,
        window__opens_at__lte=Now(),
        window__closes_at__gt=Now(),
        window__freeze_at__gt=Now(),
    )


def own_entry(contact_id: int, entry_pk: int) -> Entry:
    """The applicant's own entry, or DomainError 404 (another contact's entry is not found)."""
    entry = (
        Entry.objects.select_related("window__prefecture", "procedure")
        .filter(pk=entry_pk, contact_id=contact_id)
        .first()
    )
    if entry is None:
        raise _not_found()
    return entry


def can_withdraw(contact_id: int, entry_pk: int) -> bool:
    return Entry.objects.filter(withdrawable(), pk=entry_pk, contact_id=contact_id).exists()


def withdrawable_pks(contact_id: int) -> set[int]:
    """The pks of the applicant's entries they may withdraw now (one query)."""
    return set(
        Entry.objects.filter(withdrawable(), contact_id=contact_id).values_list("pk", flat=True)
    )


def withdraw(contact_id: int, entry_pk: int) -> Entry:
    """Withdraw the applicant's own entry, in one transaction with its audit row
    `entry.withdrawn_by_applicant`. Refused: another contact's entry (404, as not found), an
    entry no longer pending or registered, a window closed or frozen (409). The conditional
    UPDATE is the guard: a repeat, or a close committed meanwhile, changes nothing."""
    with transaction.atomic():
        entry = own_entry(contact_id, entry_pk)
        changed = Entry.objects.filter(withdrawable(), pk=entry.pk, contact_id=contact_id).update(
            status=EntryStatus.WITHDRAWN
        )
        if not changed:
            entry.refresh_from_db(fields=["status"])
            if entry.status == EntryStatus.WITHDRAWN:
                raise Conflict("entry_withdrawn", _("This entry is already withdrawn."))
            if entry.status not in WITHDRAWABLE:
                raise Conflict(
                    "entry_not_registered",
                    _("This entry is no longer registered: it cannot be withdrawn."),
                )
            raise Conflict(
                "window_not_open",
                _(
                    "Registration for this window is closed: the list of entries is the "
                    "draw's and an entry can no longer be withdrawn."
                ),
            )
        entry.status = EntryStatus.WITHDRAWN
        audit.record(
            "entry.withdrawn_by_applicant",
            actor="applicant",
            target=entry,
            prefecture_id=entry.window.prefecture_id,
            reference=entry.pseudonym,
        )
    return entry
