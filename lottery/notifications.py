"""Messages after the draw, written to the outbox: outcomes (after publication), re-offers,
answers, reminders and cancellations, each in the language of the person's contact
(`Contact.language`); their texts are in lottery.messages.

Only publication notifies: a held draw has results nobody may act on yet. An offer's message
carries its signed link (lottery.offer_links), which expires with the offer.

One million entries must not mean one million round trips nor one transaction of minutes:
`outcome_batch` writes the messages of `BATCH_SIZE` entries with one `bulk_create`, and
`lottery.services.notify_outcomes` runs one batch per transaction after the publication.
`dedup_key` is unique and conflicts are ignored, so a re-run inserts nothing new.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation

from accounts.models import OutboxMessage
from accounts.outbox import kick_delivery
from booking.models import HOLDING_STATES, Appointment, Entry, EntryStatus
from lottery import messages, offer_links
from lottery.models import Draw
from lottery.services_carry import next_window

BATCH_SIZE = 2000
MAX_WEIGHT = 4


def outcome_batch(draw: Draw, *, after: int) -> tuple[int, int | None]:
    """Add the outcome messages of the next `BATCH_SIZE` entries (by primary key, after
    `after`) of the draw's window that have a contact, inside the caller's transaction.
    Returns (messages newly written to the outbox, the last entry pk done, or None when no
    entry is left): a message already written (same dedup key) is not written or counted again."""
    entries = list(
        Entry.objects.filter(
            window_id=draw.window_id,
            status__in=[EntryStatus.SELECTED, EntryStatus.WAITING],
            contact__isnull=False,
            pk__gt=after,
        )
        .order_by("pk")
        .values_list(
            "pk", "entry_id", "status", "rank", "weight", "procedure_id",
            "contact__kind", "contact__value", "contact__language",
        )[:BATCH_SIZE]
    )  # fmt: skip
    selected = [row[0] for row in entries if row[2] == EntryStatus.SELECTED]
    offers = _offers_of(selected)
    links, next_draws, batch = _links(draw), {}, []
    for pk, entry_id, status, rank, weight, procedure_id, kind, recipient, language in entries:
        with translation.override(language):
            if status == EntryStatus.SELECTED:
                if pk not in offers:
                    continue  # its offer already ended: the re-offer sends its own message
                body = messages.selected(kind, offers[pk], links["rules"])
            else:
                if procedure_id not in next_draws:
                    following = next_window(draw.window, procedure_id)
                    next_draws[procedure_id] = following.closes_at if following else None
                outcome = messages.NotDrawn(
                    entry_id=entry_id,
                    rank=rank,
                    next_weight=min(MAX_WEIGHT, weight + 1),
                    next_draw=_local_date(next_draws[procedure_id]),
                    window_url=links["window"],
                    rules_url=links["rules"],
                    rules_short_url=links["rules_short"],
                )
                body = messages.not_drawn(kind, outcome)
        batch.append(_message(kind, recipient, body, f"outcome:{entry_id}"))
    count = _flush(batch)
    return count, (entries[-1][0] if len(entries) == BATCH_SIZE else None)


def _local_date(moment):
    return moment.astimezone(messages.PARIS).date() if moment else None


def _links(draw: Draw) -> dict[str, str]:
    code = draw.window.code
    page = settings.SITE_URL + reverse("draw-detail", args=[code])
    return {
        "window": page,
        "rules": f"{page}#rules",
        # The same page through a shorter address, for the 160 characters of an SMS.
        "rules_short": settings.SITE_URL + reverse("draw-short", args=[code]),
    }


def offer_of(appointment: Appointment) -> messages.Offer:
    """What the messages say about `appointment` (its slot and site loaded)."""
    slot = appointment.slot
    return messages.Offer(
        entry_id=appointment.entry.entry_id,
        starts_at=slot.starts_at,
        site=slot.site.name,
        site_code=slot.site.code,
        address=slot.site.address,
        respond_by=appointment.respond_by,
        link=offer_links.url(appointment),
    )


def _offers_of(entry_pks: list[int]) -> dict[int, messages.Offer]:
    """Entry pk -> the offer of its holding appointment (at most one per entry, by
    constraint)."""
    holding = Appointment.objects.filter(
        entry_id__in=entry_pks, state__in=HOLDING_STATES
    ).select_related("entry", "slot__site")
    return {appointment.entry_id: offer_of(appointment) for appointment in holding}


def notify_offers(draw: Draw, offers: list[Appointment]) -> int:
    """Add one message per re-offer whose entry has a contact, inside the caller's transaction:
    the slot, the time left to answer and the offer's link (the message expires with the
    offer). Returns how many messages were offered to the outbox."""
    rules = _links(draw)["rules"]
    batch = []
    for offer in Appointment.objects.filter(
        pk__in=[offer.pk for offer in offers], entry__contact__isnull=False
    ).select_related("entry__contact", "slot__site"):
        contact = offer.entry.contact
        with translation.override(contact.language):
            body = messages.reoffer(contact.kind, offer_of(offer), rules)
        message = _message(contact.kind, contact.value, body, f"offer:{offer.pk}")
        message.expires_at = offer.respond_by
        batch.append(message)
    return _flush(batch)


def notify_answer(appointment: Appointment, answer: str) -> int:
    """Confirm to the person their own answer ("accept", "decline" or "cancel"), inside the
    caller's transaction. Returns 0 (no contact) or 1."""
    contact = appointment.entry.contact
    if contact is None:
        return 0
    with translation.override(contact.language):
        body = messages.answered(contact.kind, offer_of(appointment), answer)
    message = _message(contact.kind, contact.value, body, f"answer:{answer}:{appointment.pk}")
    return _flush([message])


def notify_reminder(appointment: Appointment, days_before: int) -> int:
    """The reminder of a confirmed appointment `days_before` its day (2, then 1: the eve),
    once: a second call for the same day adds nothing (dedup key). Returns 0 or 1."""
    contact = appointment.entry.contact
    if contact is None:
        return 0
    with translation.override(contact.language):
        body = messages.reminder(contact.kind, offer_of(appointment))
    key = f"reminder:{days_before}:{appointment.pk}"
    message = _message(contact.kind, contact.value, body, key)
    message.expires_at = appointment.slot.starts_at - timedelta(hours=1)
    return _flush([message])


def notify_cancellation(appointment: Appointment) -> int:
    """Tell the holder of an appointment that the prefecture cancelled it (a four-eyes staff
    cancellation: lottery.four_eyes), inside the caller's transaction. Returns 0 or 1."""
    entry = appointment.entry
    if entry.contact_id is None:
        return 0
    contact = entry.contact
    with translation.override(contact.language):
        body = messages.cancelled_by_prefecture(
            contact.kind, entry.entry_id, appointment.slot.starts_at
        )
    return _flush([_message(contact.kind, contact.value, body, f"cancel:{appointment.pk}")])


def _message(kind: str, recipient: str, body: str, dedup_key: str) -> OutboxMessage:
    return OutboxMessage(
        channel=kind, recipient=recipient, body=body, subject="Fairslot", dedup_key=dedup_key
    )


def _flush(batch: list[OutboxMessage]) -> int:
    """Write the messages whose dedup key is not in the outbox yet; return how many that is.
    A writer running at the same moment may still win a key: the unique key then skips the
    row (ignore_conflicts), so a message is never written twice, only counted here."""
    keys = [message.dedup_key for message in batch]
    written = set(
        OutboxMessage.objects.filter(dedup_key__in=keys).values_list("dedup_key", flat=True)
    )
    new = [message for message in batch if message.dedup_key not in written]
    # bulk_create calls each field's get_prep_value, so recipient and body are encrypted here.
    OutboxMessage.objects.bulk_create(new, ignore_conflicts=True)
    if new:
        transaction.on_commit(kick_delivery)
    batch.clear()
    return len(new)
