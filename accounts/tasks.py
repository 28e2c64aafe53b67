"""Thin Celery tasks: take ids, call one service."""

import logging

from celery import shared_task

from accounts import outbox

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def task_deliver_outbox() -> int:
    return outbox.deliver_pending()


@shared_task
def task_purge_expired_codes() -> int:
    from accounts import otp

    return otp.purge_expired_challenges()
