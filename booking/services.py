"""Business operations on windows (and, with later issues, entries and appointments).

Every function is one transaction and writes its audit row inside it. Time decisions use the
database clock (`Now()`), never the application server's, so a skewed web node cannot accept
an entry after the close or open a window early.
"""

import logging

from django.db import transaction
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from accounts import audit
from booking.models import Window, WindowState
from config.errors import Conflict

logger = logging.getLogger(__name__)

# to_state: (required from_state, the schedule field whose time must have come)
_TIMED_TRANSITIONS = {
    WindowState.OPEN: (WindowState.SCHEDULED, "opens_at"),
    WindowState.CLOSED: (WindowState.OPEN, "closes_at"),
}


def advance_window(*, window_id: int, to_state: str, actor=None) -> bool:
    """Move a window along a timed transition if its time has come (database time).

    The conditional UPDATE is the claim: of two concurrent callers exactly one changes the row
    (the other re-reads it after the first commits and matches nothing), so the transition and
    its audit row happen once. Returns whether this call made the transition.
    """
    from_state, time_field = _TIMED_TRANSITIONS[to_state]
    with transaction.atomic():
        changed = Window.objects.filter(
            pk=window_id, state=from_state, **{f"{time_field}__lte": Now()}
        ).update(state=to_state, state_changed_at=Now())
        if not changed:
            return False
        window = Window.objects.get(pk=window_id)
        audit.record(
            f"window.{to_state}",
            actor=actor,
            target=window,
            prefecture_id=window.prefecture_id,
            code=window.code,
        )
    logger.info("window %s moved %s -> %s", window_id, from_state, to_state)
    return True


def tick_windows() -> dict[str, int]:
    """Advance every window whose time has come. Idempotent: safe to run twice, or on two
    workers at once. Returns how many transitions this call made, by target state."""
    done = {}
    for to_state, (from_state, time_field) in _TIMED_TRANSITIONS.items():
        due = Window.objects.filter(state=from_state, **{f"{time_field}__lte": Now()})
        done[to_state] = sum(
            advance_window(window_id=pk, to_state=to_state)
            for pk in due.values_list("pk", flat=True)
        )
    return done


def mark_window_drawn(*, window_id: int, actor=None) -> None:
    """Closed → drawn. Called by the draw, inside its own transaction."""
    changed = Window.objects.filter(pk=window_id, state=WindowState.CLOSED).update(
        state=WindowState.DRAWN, state_changed_at=Now()
    )
    if not changed:
        raise Conflict("window_not_closed", "The window is not closed, it cannot be drawn.")
    window = Window.objects.get(pk=window_id)
    audit.record("window.drawn", actor=actor, target=window, prefecture_id=window.prefecture_id)


def mark_window_frozen(*, window_id: int, at) -> None:
    """Record the draw's freeze on the window. Called by the freeze, inside its transaction,
    before it reads the entries: this UPDATE takes the window's row lock, which a duplicate
    review takes too (booking.duplicates), so a review commits before the entries are read or
    finds the window frozen. The freeze's own audit row records the change."""
    Window.objects.filter(pk=window_id, frozen_at__isnull=True).update(frozen_at=at)


def mark_window_published(*, window_id: int, at=None, actor=None) -> bool:
    """Drawn → published. Called by the draw's publication, inside its transaction."""
    changed = Window.objects.filter(pk=window_id, state=WindowState.DRAWN).update(
        state=WindowState.PUBLISHED, state_changed_at=at or Now()
    )
    if changed:
        window = Window.objects.get(pk=window_id)
        audit.record(
            "window.published", actor=actor, target=window, prefecture_id=window.prefecture_id
        )
    return bool(changed)


def close_window_early(*, window_id: int, actor) -> None:
    """Open -> closed now, before its planned close (a four-eyes decision: lottery.four_eyes
    calls this once a second supervisor approved). The freeze keeps its planned time."""
    with transaction.atomic():
        changed = Window.objects.filter(pk=window_id, state=WindowState.OPEN).update(
            state=WindowState.CLOSED, closes_at=Now(), state_changed_at=Now()
        )
        if not changed:
            raise Conflict("window_not_open", _("Only an open window can be closed early."))
        window = Window.objects.get(pk=window_id)
        audit.record(
            "window.closed_early",
            actor=actor,
            target=window,
            prefecture_id=window.prefecture_id,
            code=window.code,
        )
