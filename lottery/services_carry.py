"""Carry-over: entries that got no slot move into the next window of the same procedure and
prefecture, with a fresh entry_id (published lists cannot be linked across draws) and the
link kept privately in `carried_from`, from which the next freeze computes the weight.

When: an entry leaves its window's waiting list only once no re-offer can reach it any more,
that is when every slot of its window starts within the cancellation cut-off. Carrying it
earlier would take it off a waiting list that the published replay (events.log, step 6) still
counts it on.
"""

import logging
import time
from datetime import timedelta

from django.db import IntegrityError, transaction
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


# A million-entry window leaves about 900,000 entries waiting: they move in batches, each in
# its own transaction (a crash loses at most the batch in progress, which the next run redoes),
# and a run stops after its time budget so that the minute tick returns; the next tick goes on.
BATCH_SIZE = 5000
TIME_BUDGET_SECONDS = 40.0


def carry_over(*, window_id: int, time_budget: float = TIME_BUDGET_SECONDS) -> int:
    """Carry the waiting entries of a published window whose waitlist is closed. Idempotent:
    an entry moves once (its status leaves WAITING under a conditional UPDATE, in the same
    transaction as its successor's insert). Returns how many moved in this run."""
    window = Window.objects.get(pk=window_id)
    if getattr(getattr(window, "draw", None), "state", None) != DrawState.PUBLISHED:
        return 0
    if not waitlist_closed(window):
        return 0
    deadline = time.monotonic() + time_budget
    waiting = Entry.objects.filter(window=window, status=EntryStatus.WAITING)
    moved = 0
    for procedure_id in waiting.values_list("procedure_id", flat=True).distinct().order_by():
        target = next_window(window, procedure_id)
        if target is None:
            continue
        after = 0
        while time.monotonic() < deadline:
            batch = list(
                waiting.filter(procedure_id=procedure_id, pk__gt=after)
                .order_by("pk")
                .values_list("pk", flat=True)[:BATCH_SIZE]
            )
            if not batch:
                break
            moved += _carry_batch(window, target, batch)
            after = batch[-1]
    if moved:
        logger.info("carry-over of window %s: %s entries moved", window.code, moved)
    return moved


def _carry_batch(window: Window, target: Window, pks: list[int]) -> int:
    """Move these entries (those still waiting) to `target` in one transaction: claim them,
    insert their successors with fresh entry_ids, copy their sites, one audit row."""
    try:
        with transaction.atomic(durable=True):
            claimed = list(
                Entry.objects.select_for_update()
                .filter(pk__in=pks, status=EntryStatus.WAITING)
                .order_by("pk")
                .only("pk", *_COPIED)
            )
            if not claimed:
                return 0
            Entry.objects.filter(pk__in=[e.pk for e in claimed]).update(status=EntryStatus.CARRIED)
            fresh = Entry.objects.bulk_create([_successor(old, target) for old in claimed])
            successor = {e.carried_from_id: e.pk for e in fresh}
            through = Entry.sites.through
            through.objects.bulk_create(
                through(entry_id=successor[entry_id], site_id=site_id)
                for entry_id, site_id in through.objects.filter(
                    entry_id__in=list(successor)
                ).values_list("entry_id", "site_id")
            )
            audit.record(
                "entries.carried",
                target=target,
                prefecture_id=target.prefecture_id,
                from_window=window.code,
                to_window=target.code,
                count=len(fresh),
            )
            return len(fresh)
    except IntegrityError:
        # A constraint refused one of them (it cannot under the rules as they stand: each old
        # entry gives up its person's and its contact's place in the same transaction). Move
        # the others one by one, and name the one left behind in the log.
        if len(pks) > 1:
            return sum(_carry_batch(window, target, [pk]) for pk in pks)
        logger.error("carry-over of window %s: entry pk %s refused by a constraint",
                     window.code, pks[0])  # fmt: skip
        return 0


def _successor(old: Entry, target: Window) -> Entry:
    """The entry's copy in the next window: a fresh entry_id (the model's default), the same
    person, contact seat and preferences, and the private link from which the weight comes."""
    return Entry(
        window=target,
        carried_from_id=old.pk,
        status=EntryStatus.REGISTERED,
        **{field: getattr(old, field) for field in _COPIED},
    )


def carry_due() -> int:
    """Every published window's carry-over whose time has come (the tick runs this)."""
    published = Window.objects.filter(
        state=WindowState.PUBLISHED, entries__status=EntryStatus.WAITING
    ).distinct()
    return sum(carry_over(window_id=pk) for pk in published.values_list("pk", flat=True))
