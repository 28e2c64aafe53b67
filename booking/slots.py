"""Slots of a window: added, changed and deleted only until the window's draw is frozen.

At the freeze the window's slots are published as slots.csv with its digest, and the draw gives
them from that file: a slot changed afterwards is no longer the one published (an appointment
moved from 09:00 to 18:45 that no replay can check). From then on a slot never changes; a real
mistake (a desk closed by a strike) is corrected by cancelling the appointment, whose slot goes
to the next in draw order (lottery.services_offers, logged in events.log).

booking never imports lottery, so the freeze is read on the window, as booking.duplicates reads
it: `Window.frozen_at`, which the freeze writes under the window's row lock before it reads the
slots, and the scheduled `freeze_at` by database time (which also covers windows frozen before
`frozen_at` existed). On PostgreSQL a trigger refuses the same changes whoever makes them
(lottery migration 0005).
"""

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from accounts import audit
from booking.models import Slot, Window
from config.errors import Conflict

SLOT_FIELDS = ("window_id", "site_id", "procedure_id", "code", "starts_at")
FROZEN = Q(frozen_at__isnull=False) | Q(freeze_at__lte=Now())


def frozen_refusal() -> Conflict:
    return Conflict(
        "window_frozen",
        _(
            "The draw of this window is frozen: its slots and entries can no longer change. "
            "To correct an appointment, cancel it: its slot is then offered to the next person."
        ),
    )


def is_frozen(window_id: int) -> bool:
    return Window.objects.filter(FROZEN, pk=window_id).exists()


def check_not_frozen(*window_ids: int, lock: bool = False) -> None:
    """Refuse (Conflict "window_frozen") if any of these windows is frozen. With `lock`, inside
    a transaction, their rows are then locked, as the freeze locks its window before it reads the
    slots: a change either commits before the freeze reads them or finds the window frozen."""
    windows = Window.objects.filter(pk__in=window_ids)
    # Checked before the lock too: a freeze in progress holds the lock for seconds, and the
    # schedule already says it is frozen, so the caller is refused without waiting for it.
    if windows.filter(FROZEN).exists():
        raise frozen_refusal()
    if lock:
        list(windows.select_for_update().order_by("pk").values_list("pk"))
        if windows.filter(FROZEN).exists():
            raise frozen_refusal()


def create_slot(
    *, window_id: int, site_id: int, procedure_id: int, code: str, starts_at, actor
) -> Slot:
    """Add a slot to a window that is not frozen."""
    with transaction.atomic():
        check_not_frozen(window_id, lock=True)
        slot = Slot.objects.create(
            window_id=window_id,
            site_id=site_id,
            procedure_id=procedure_id,
            code=code,
            starts_at=starts_at,
        )
        _audit("slot.created", slot, actor, **_values(slot))
    return slot


def change_slot(
    *, slot_id: int, window_id: int, site_id: int, procedure_id: int, code: str, starts_at, actor
) -> Slot:
    """Change a slot of a window that is not frozen, into a window that is not frozen either."""
    with transaction.atomic():
        slot = _locked(slot_id)
        check_not_frozen(slot.window_id, window_id, lock=True)
        before = _values(slot)
        slot.window_id, slot.site_id, slot.procedure_id = window_id, site_id, procedure_id
        slot.code, slot.starts_at = code, starts_at
        slot.save()
        after = _values(slot)
        changed = {
            name: [before[name], after[name]] for name in after if before[name] != after[name]
        }
        _audit("slot.changed", slot, actor, changed=changed)
    return slot


def delete_slot(*, slot_id: int, actor) -> None:
    """Delete a slot of a window that is not frozen."""
    with transaction.atomic():
        slot = _locked(slot_id)
        check_not_frozen(slot.window_id, lock=True)
        _audit("slot.deleted", slot, actor, **_values(slot))
        slot.delete()


def _locked(slot_id: int) -> Slot:
    # NO KEY UPDATE: it does not wait for the draw, whose appointments hold KEY SHARE locks on
    # their slots (foreign-key checks), so a change after the freeze is refused at once.
    return Slot.objects.select_for_update(no_key=True).get(pk=slot_id)


def _values(slot: Slot) -> dict:
    return {name.removesuffix("_id"): getattr(slot, name) for name in SLOT_FIELDS}


def _audit(action: str, slot: Slot, actor, **data) -> None:
    prefecture_id = Window.objects.values_list("prefecture_id", flat=True).get(pk=slot.window_id)
    audit.record(action, actor=actor, target=slot, prefecture_id=prefecture_id, **data)
