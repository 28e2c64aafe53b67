"""Carry-over: entries that got no slot move into the next window of the same procedure and
prefecture, with a fresh entry_id (published lists cannot be linked across draws) and the
link kept privately in `carried_from`, from which the next freeze computes the weight.

When: an entry leaves its window's waiting list only once no re-offer can reach it any more,
that is when every slot of its window starts within the cancellation cut-off. Carrying it
earlier would take it off a waiting list that the published replay (events.log, step 6) still
counts it on.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Max

from accounts import audit
from booking.models import Entry, EntryStatus, Window, WindowState
from lottery import clock
from lottery.models import DrawState

logger = logging.getLogger(__name__)

_COPIED = ["procedure_id", "person_id", "contact_id", "contact_seat", "excluded_weekdays",
           "permit_expires_on", "urgent_approved", "channel"]  # fmt: skip


def next_window(window: Window, procedure_id: int) -> Window | None:
    """The earliest window of the same prefecture offering this procedure, still taking
    entries (scheduled or open) and opening after this one closed."""
    return (
        Window.objects.filter(
            prefecture_id=window.prefecture_id, procedures=procedure_id,
            state__in=[WindowState.SCHEDULED, WindowState.OPEN], opens_at__gte=window.closes_at,
        )
        .order_by("opens_at")
        .first()
    )  # fmt: skip


def waitlist_closed(window: Window) -> bool:
    last = window.slots.aggregate(last=Max("starts_at"))["last"]
    cutoff = timedelta(hours=window.cancel_cutoff_hours)
    return last is None or last - cutoff <= clock.now()


def carry_over(*, window_id: int) -> int:
    """Carry the waiting entries of a published window whose waitlist is closed. Idempotent:
    an entry moves once (its status leaves WAITING under a conditional UPDATE)."""
    window = Window.objects.get(pk=window_id)
    if getattr(getattr(window, "draw", None), "state", None) != DrawState.PUBLISHED:
        return 0
    if not waitlist_closed(window):
        return 0
    moved = 0
    waiting = Entry.objects.filter(window=window, status=EntryStatus.WAITING)
    for entry in waiting.prefetch_related("sites"):
        moved += _carry(entry)
    return moved


def _carry(entry: Entry) -> bool:
    target = next_window(entry.window, entry.procedure_id)
    if target is None:
        return False
    with transaction.atomic(durable=True):
        claimed = Entry.objects.filter(pk=entry.pk, status=EntryStatus.WAITING).update(
            status=EntryStatus.CARRIED
        )
        if not claimed:
            return False
        fresh = Entry.objects.create(
            window=target, carried_from=entry, status=EntryStatus.REGISTERED,
            **{field: getattr(entry, field) for field in _COPIED},
        )  # fmt: skip
        fresh.sites.set(entry.sites.all())
        audit.record("entry.carried", target=fresh, prefecture_id=target.prefecture_id,
                     from_window=entry.window.code, to_window=target.code)  # fmt: skip
    return True


def carry_due() -> int:
    """Every published window's carry-over whose time has come (the tick runs this)."""
    published = Window.objects.filter(
        state=WindowState.PUBLISHED, entries__status=EntryStatus.WAITING
    ).distinct()
    return sum(carry_over(window_id=pk) for pk in published.values_list("pk", flat=True))
