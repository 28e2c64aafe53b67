"""The beat tick of the draws: each step whose time has come, each one idempotent."""

import logging
import time

from booking.models import Window, WindowState
from config.errors import DomainError
from lottery import clock, services, services_carry, services_offers, services_reveal
from lottery.models import BeaconMode, Draw, DrawState
from lottery.services_run import draw_is_due

logger = logging.getLogger(__name__)


def tick_draws() -> dict:
    """Announce, freeze, reveal the operator's secret, fetch the beacon, publish; return counts
    and, under "due", the window ids whose draw should run now (the task enqueues them)."""
    done = {"announced": 0, "frozen": 0, "revealed": 0, "beacon": 0, "published": 0}
    unannounced = Window.objects.filter(
        state__in=[WindowState.SCHEDULED, WindowState.OPEN], draw__isnull=True
    )
    for window_id in unannounced.values_list("pk", flat=True):
        done["announced"] += _step(services.announce_draw, window_id)
    now = clock.now()
    to_freeze = Draw.objects.filter(
        state=DrawState.ANNOUNCED, window__state=WindowState.CLOSED, window__freeze_at__lte=now
    )
    for window_id in to_freeze.values_list("window_id", flat=True):
        done["frozen"] += _step(services.freeze_draw, window_id)
    frozen = Draw.objects.filter(state=DrawState.FROZEN).select_related("window")
    due = []
    for draw in frozen:
        operator = draw.parties.filter(is_operator=True, revealed_at__isnull=True).exists()
        if operator and now <= draw.window.reveal_deadline:
            done["revealed"] += _step(services_reveal.reveal_operator_secret, draw.window_id)
        if draw.beacon_mode == BeaconMode.QUICKNET and not draw.beacon_source:
            done["beacon"] += _step(services_reveal.fetch_beacon, draw.window_id)
            draw.refresh_from_db()
        if draw_is_due(draw):
            due.append(draw.window_id)
    ready = Draw.objects.filter(state=DrawState.DRAWN)
    for window_id in ready.values_list("window_id", flat=True):
        done["published"] += _step(services.publish_draw, window_id)
    # Messages of a large publication, or of one a crash interrupted, continue here (one time
    # budget for all of them).
    unnotified = Draw.objects.filter(state=DrawState.PUBLISHED, notified_at__isnull=True)
    done["notified"], started = 0, time.monotonic()
    for window_id in unnotified.values_list("window_id", flat=True):
        left = services.NOTIFY_BUDGET_SECONDS - (time.monotonic() - started)
        if left <= 0:
            break
        done["notified"] += services.notify_outcomes(window_id=window_id, time_budget=left)
    done["lapsed"] = services_offers.lapse_due_offers()
    done["carried"] = services_carry.carry_due()
    done["due"] = due
    return done


def _step(function, window_id: int) -> bool:
    try:
        return bool(function(window_id=window_id))
    except DomainError as error:
        logger.warning(
            "draw tick: %s(window %s) refused: %s", function.__name__, window_id, error.code
        )
        return False
