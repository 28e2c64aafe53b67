"""Thin Celery tasks: they take ids and call services. Correctness rests on the services'
database claims, never on exactly-once delivery.

acks_late with reject_on_worker_lost (redelivery after a killed worker) is set task by task, only
where a repeat is a no-op by construction; each task says why. Time limits are sized per task;
every hard limit stays well under the broker's visibility timeout (config/settings.py)."""

import logging
import time

from celery import shared_task
from django.core.cache import cache

from config.counters import LAST_DRAW_SECONDS_KEY
from lottery import absences, kit, reminders, services_offers, services_tick
from lottery.models import Draw
from lottery.services_run import run_draw

logger = logging.getLogger(__name__)


# Idempotent: each step is a state guard (conditional UPDATE on the draw's state under its row
# lock), so a redelivered tick finds nothing left to do. Notifications have their own 40 s
# budget; a million-entry freeze reads the entries once (docs/benchmarks.md), hence 10 minutes.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=600, time_limit=660)
def task_tick_draws() -> dict:
    """Advance every draw whose time has come; enqueue the draws that are due."""
    done = services_tick.tick_draws()
    for window_id in done.pop("due", []):
        task_run_draw.delay(window_id)
    return done


# Idempotent: services_run locks the draw row and moves it frozen -> drawn by a conditional
# UPDATE in one transaction; a redelivery finds it drawn and only records "draw.skipped", and a
# killed run's transaction is rolled back (tests/lottery/test_worker_kill.py). A million-entry
# draw takes 24-60 s end to end (docs/benchmarks.md): 30 minutes leaves room for a slow disk.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=1800, time_limit=2100)
def task_run_draw(window_id: int) -> str | None:
    if not Draw.objects.filter(window_id=window_id).exists():
        logger.warning("task_run_draw: window %s has no draw", window_id)
        return None
    started = time.monotonic()
    outcome = run_draw(window_id=window_id)
    # For /metrics (ops.metrics), which every web process reads from the shared cache. The draw
    # is done: a cache that does not answer only loses the figure.
    try:
        cache.set(LAST_DRAW_SECONDS_KEY, round(time.monotonic() - started, 3), timeout=None)
    except Exception as exc:
        logger.warning("task_run_draw: duration not recorded: %s", type(exc).__name__)
    return outcome


# Idempotent: one EventLogHead per (draw, day) through get_or_create, one audit head per day.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=300, time_limit=360)
def task_publish_event_heads() -> int:
    """Hourly; the first run of each day publishes that day's events.log heads and the audit
    log's head."""
    return services_offers.publish_event_heads()


# Idempotent: only confirmed appointments without a check-in change state (conditional UPDATE).
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=600, time_limit=660)
def task_mark_absences() -> int:
    """Every evening (config/schedule.py): confirmed appointments whose time has passed
    without a check-in become absences. Idempotent. Returns how many."""
    return absences.mark_due_absences()


# Idempotent: each reminder has its own dedup key and the ones already written are skipped
# (lottery.reminders): a redelivered run writes nothing new.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=300, time_limit=360)
def task_send_reminders() -> dict:
    """Hourly: the reminders of confirmed appointments, two days before and on the eve."""
    return {str(days): count for days, count in reminders.send_due_reminders().items()}


# Idempotent: the kit is keyed by its files' digest and stored with get_or_create; a repeat
# finds it stored. Building the zip of a million-entry draw takes seconds, 15 minutes is ample.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=900, time_limit=960)
def task_build_kit(window_id: int) -> int | None:
    """Build and store the draw's replay kit for its current files (a download asked for it);
    nothing if it is already stored. Returns its size."""
    draw = Draw.objects.select_related("window").filter(window_id=window_id).first()
    if draw is None:
        return None
    key = kit.kit_key(draw)
    stored = kit.current_kit(draw, key) or kit.store_kit(draw, key)
    return stored.size
