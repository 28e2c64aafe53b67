"""Thin Celery tasks for booking: they trigger services, which are idempotent."""

import logging

from celery import shared_task

from booking import services

logger = logging.getLogger(__name__)


# Idempotent: every transition is a conditional UPDATE from the expected state, so a
# redelivered tick changes nothing. acks_late with reject_on_worker_lost therefore.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=300, time_limit=360)
def task_tick_windows() -> dict:
    done = services.tick_windows()
    if any(done.values()):
        logger.info("window tick: %s", done)
    return done


# Idempotent: erased rows carry a marker and are never chosen again, each batch is its own
# transaction, so a redelivered or interrupted run only finishes the work (booking.retention).
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=1800, time_limit=1900)
def purge_expired_data() -> dict:
    from booking import retention

    return retention.purge()
