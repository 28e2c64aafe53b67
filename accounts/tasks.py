"""Thin Celery tasks: take ids, call one service."""

import logging

from celery import shared_task

from accounts import outbox

logger = logging.getLogger(__name__)


# Idempotent: each row is claimed by a conditional UPDATE (accounts.outbox), so a redelivered
# run only sends what is still due. deliver_pending stops itself after 50 s.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=120, time_limit=180)
def task_deliver_outbox() -> int:
    return outbox.deliver_pending()


# Idempotent: one UPDATE that clears expired codes; a repeat clears nothing more.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=300, time_limit=360)
def task_purge_expired_codes() -> int:
    from accounts import otp

    return otp.purge_expired_challenges()
