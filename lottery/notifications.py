"""Outcome messages (after publication) and re-offer messages, written to the outbox.

Only publication notifies: a held draw has results nobody may act on yet. Each message carries
the CRPA L311-3-1 mention (a decision taken by an algorithm, and where its rules are published)
and nothing that identifies the person beyond their pseudonym: no name, no identity number.

One million entries must not mean one million round trips nor one transaction of minutes:
`outcome_batch` writes the messages of `BATCH_SIZE` entries with one `bulk_create`, and
`lottery.services.notify_outcomes` runs one batch per transaction after the publication.
`dedup_key` is unique and conflicts are ignored, so a re-run inserts nothing new.
"""

import unicodedata
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import ContactKind, OutboxMessage
from booking.models import HOLDING_STATES, Appointment, Entry, EntryStatus, Site
from lottery.models import Draw

PARIS = ZoneInfo("Europe/Paris")
BATCH_SIZE = 2000
SMS_MAX = 160
MIN_SITE_CHARS = 8
# Characters of the GSM 03.38 extension table: each costs two septets, some gateways drop them.
GSM7_EXTENSION = str.maketrans({"^": "'", "{": "(", "}": ")", "\\": "/", "[": "(", "]": ")",
                                "~": "-", "|": "/", "€": "EUR", "`": "'"})  # fmt: skip
LANGUAGE = "fr"


def outcome_batch(draw: Draw, *, after: int) -> tuple[int, int | None]:
    """Add the outcome messages of the next `BATCH_SIZE` entries (by primary key, after
    `after`) of the draw's window that have a contact, inside the caller's transaction.
    Returns (messages offered to the outbox, the last entry pk done, or None when no entry is
    left); rows whose dedup key already exists are skipped by the database."""
    entries = list(
        Entry.objects.filter(
            window_id=draw.window_id,
            status__in=[EntryStatus.SELECTED, EntryStatus.WAITING],
            contact__isnull=False,
            pk__gt=after,
        )
        .order_by("pk")
        .values_list("pk", "entry_id", "status", "contact__kind", "contact__value")[:BATCH_SIZE]
    )
    selected = [pk for pk, _id, status, *_ in entries if status == EntryStatus.SELECTED]
    appointments = _appointments(selected)
    links, batch = _links(draw), []
    with translation.override(LANGUAGE):
        for pk, entry_id, status, kind, recipient in entries:
            slot, respond_by = None, None
            if status == EntryStatus.SELECTED:
                if pk not in appointments:
                    continue  # its offer already ended: the re-offer sends its own message
                *slot, respond_by = appointments[pk]
            body = outcome_body(
                entry_id=entry_id, kind=kind, slot=slot, links=links, respond_by=respond_by
            )
            batch.append(_message(entry_id, kind, recipient, body))
    count = _flush(batch)
    return count, (entries[-1][0] if len(entries) == BATCH_SIZE else None)


def _links(draw: Draw) -> dict[str, str]:
    code = draw.window.code
    return {
        "confirm": settings.SITE_URL + reverse("my-entries"),
        "rules": settings.SITE_URL + reverse("draw-detail", args=[code]),
        # The same page through a shorter address, for the 160 characters of an SMS.
        "rules_short": settings.SITE_URL + reverse("draw-short", args=[code]),
    }


def _appointments(entry_pks: list[int]) -> dict[int, tuple]:
    """Entry pk -> (starts_at, site name, site code, respond_by) of its holding appointment (at
    most one per entry, by constraint)."""
    rows = Appointment.objects.filter(entry_id__in=entry_pks, state__in=HOLDING_STATES).values_list(
        "entry_id", "slot__starts_at", "slot__site__name", "slot__site__code", "respond_by"
    )
    return {entry_pk: values for entry_pk, *values in rows}


def notify_offers(draw: Draw, offers: list[Appointment]) -> int:
    """Add one message per re-offer whose entry has a contact, inside the caller's transaction:
    the slot and the time left to confirm it (the message expires with the offer). Returns how
    many messages were offered to the outbox."""
    entries = Entry.objects.filter(
        pk__in=[offer.entry_id for offer in offers], contact__isnull=False
    ).values_list("pk", "entry_id", "contact__kind", "contact__value")
    contacts = {pk: rest for pk, *rest in entries}
    sites = dict(Site.objects.filter(pk__in={o.slot.site_id for o in offers}).values_list(
        "pk", "name"))  # fmt: skip
    links, batch = _links(draw), []
    with translation.override(LANGUAGE):
        for offer in offers:
            if offer.entry_id not in contacts:
                continue
            entry_id, kind, recipient = contacts[offer.entry_id]
            slot = (offer.slot.starts_at, sites[offer.slot.site_id], offer.slot.code)
            body = reoffer_body(
                entry_id=entry_id, kind=kind, slot=slot, respond_by=offer.respond_by, links=links
            )
            message = _message(entry_id, kind, recipient, body, dedup_key=f"offer:{offer.pk}")
            message.expires_at = offer.respond_by
            batch.append(message)
    return _flush(batch)


def notify_cancellation(appointment: Appointment) -> int:
    """Tell the holder of an appointment that the prefecture cancelled it (a four-eyes staff
    cancellation: lottery.four_eyes), inside the caller's transaction. Returns 0 or 1."""
    entry = appointment.entry
    if entry.contact_id is None:
        return 0
    contact = entry.contact
    local = appointment.slot.starts_at.astimezone(PARIS)
    with translation.override(LANGUAGE):
        text = _(
            "Fairslot E-%(entry)s: the prefecture cancelled your appointment of %(when)s. You "
            "stay on the waiting list. Questions: at the prefecture's desk."
        ) % {"entry": entry.entry_id[:8].upper(), "when": local.strftime("%d/%m %H:%M")}
    body = gsm7(text) if contact.kind == ContactKind.PHONE else f"{text}\n"
    message = _message(
        entry.entry_id, contact.kind, contact.value, body, dedup_key=f"cancel:{appointment.pk}"
    )
    return _flush([message])


def _message(
    entry_id: str, kind: str, recipient: str, body: str, dedup_key: str = ""
) -> OutboxMessage:
    return OutboxMessage(
        channel=kind,
        recipient=recipient,
        body=body,
        subject="Fairslot",
        dedup_key=dedup_key or f"outcome:{entry_id}",
    )


def _flush(batch: list[OutboxMessage]) -> int:
    # bulk_create calls each field's get_prep_value, so recipient and body are encrypted here.
    OutboxMessage.objects.bulk_create(batch, ignore_conflicts=True)
    count = len(batch)
    batch.clear()
    return count


# --- Texts -------------------------------------------------------------------------------------


def outcome_body(
    *, entry_id: str, kind: str, slot: tuple | None, links: dict, respond_by=None
) -> str:
    """The message for one entry in the active language: `slot` is (starts_at, site name,
    site code) for a selected entry, None for a waiting one; `respond_by`, the offer's answer
    deadline, is given in the e-mail (an SMS has no room for it: the confirmation page has)."""
    if kind == ContactKind.PHONE:
        return _sms(entry_id, slot, links)
    return _email(entry_id, slot, links, respond_by)


def _mention(url: str) -> str:
    return _("Decision by algorithm, rules: %(url)s") % {"url": url}


def _sms(entry_id: str, slot: tuple | None, links: dict) -> str:
    """One SMS part if it can be: 160 GSM-7 characters. The date has no year (the appointment
    is weeks away at most) and a long site name is shortened, or replaced by its code."""
    pseudonym = f"E-{entry_id[:8].upper()}"
    mention = _mention(links["rules_short"])
    if slot is None:
        text = _("Fairslot %(entry)s: not drawn. You keep your place in the next draw, with "
                 "more weight.") % {"entry": pseudonym}  # fmt: skip
        return gsm7(f"{text} {mention}")
    starts_at, name, code = slot
    local = starts_at.astimezone(PARIS)

    def render(site: str) -> str:
        text = _("Fairslot %(entry)s: appointment %(when)s, %(site)s. Confirm: %(url)s") % {
            "entry": pseudonym, "when": local.strftime("%d/%m %H:%M"), "site": site,
            "url": links["confirm"],
        }  # fmt: skip
        return gsm7(f"{text} {mention}")

    return _fit_site(render, gsm7(name), code)


def reoffer_body(*, entry_id: str, kind: str, slot: tuple, respond_by, links: dict) -> str:
    """The message of a re-offer (a freed slot offered to the next on the waiting list) in the
    active language: `slot` is (starts_at, site name, site code)."""
    starts_at, name, code = slot
    local, deadline = starts_at.astimezone(PARIS), respond_by.astimezone(PARIS)
    if kind != ContactKind.PHONE:
        text = _(
            "A slot of the draw has been freed and is offered to your entry %(entry)s: on "
            "%(date)s at %(time)s, at %(site)s.\n\n"
            "Confirm it before %(deadline)s, or it will be offered to the next person on the "
            "waiting list: %(url)s"
        ) % {
            "entry": entry_id,
            "date": local.strftime("%d/%m/%Y"),
            "time": local.strftime("%H:%M"),
            "site": name,
            "deadline": deadline.strftime("%d/%m/%Y %H:%M"),
            "url": links["confirm"],
        }
        return f"{text}\n\n{_mention(links['rules'])}\n"

    def render(site: str) -> str:
        text = _(
            "Fairslot %(entry)s: freed slot %(when)s, %(site)s. Confirm by %(deadline)s: "
            "%(url)s"
        ) % {
            "entry": f"E-{entry_id[:8].upper()}", "when": local.strftime("%d/%m %H:%M"),
            "site": site, "deadline": deadline.strftime("%d/%m %H:%M"), "url": links["confirm"],
        }  # fmt: skip
        return gsm7(f"{text} {_mention(links['rules_short'])}")

    return _fit_site(render, gsm7(name), code)


def _fit_site(render, name: str, code: str) -> str:
    """render(site) with the site's name, shortened (or replaced by its code) to fit one SMS."""
    body = render(name)
    room = len(name) - (len(body) - SMS_MAX)
    if room < len(name):
        body = render(name[:room].rstrip() if room >= MIN_SITE_CHARS else code)
    return body


def _email(entry_id: str, slot: tuple | None, links: dict, respond_by=None) -> str:
    if slot is None:
        text = _(
            "Your entry %(entry)s was not drawn this time.\n\n"
            "You keep your place: you are entered in the next draw for the same procedure, with "
            "more weight. If a slot of this draw is freed, it may still be offered to you."
        ) % {"entry": entry_id}
    else:
        starts_at, site, _code = slot
        local = starts_at.astimezone(PARIS)
        values = {
            "entry": entry_id,
            "date": local.strftime("%d/%m/%Y"),
            "time": local.strftime("%H:%M"),
            "site": site,
            "url": links["confirm"],
        }
        if respond_by is None:
            template = _(
                "Your entry %(entry)s was drawn: an appointment is offered to you on %(date)s at "
                "%(time)s, at %(site)s.\n\n"
                "You must confirm it, or it will be offered to someone else: %(url)s"
            )
        else:
            values["deadline"] = respond_by.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
            template = _(
                "Your entry %(entry)s was drawn: an appointment is offered to you on %(date)s at "
                "%(time)s, at %(site)s.\n\n"
                "Confirm it before %(deadline)s, or it will be offered to someone else: %(url)s"
            )
        text = template % values
    return f"{text}\n\n{_mention(links['rules'])}\n"


def gsm7(text: str) -> str:
    """Fold a text into the GSM 03.38 basic alphabet (ASCII letters and punctuation): accents
    are dropped rather than forcing the whole SMS into UCS-2 (70 characters a part)."""
    folded = unicodedata.normalize("NFKD", text).translate(GSM7_EXTENSION)
    return folded.encode("ascii", "ignore").decode("ascii")
