"""Thin Celery tasks for booking: they trigger services, which are idempotent."""

import logging

from celery import shared_task

from booking import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def task_tick_windows() -> dict:
    done = services.tick_windows()
    if any(done.values()):
        logger.info("window tick: %s", done)
    return done
