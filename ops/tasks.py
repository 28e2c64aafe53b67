from celery import shared_task

from ops import health


# Not acks_late: a heartbeat redelivered after a lost worker proves nothing, the next one comes
# 30 seconds later. No retries, and it expires well before /readyz's limit, so that one which
# runs late does not count as fresh.
@shared_task(ignore_result=True, expires=60, soft_time_limit=10, time_limit=20)
def task_heartbeat() -> None:
    """The worker's heartbeat, sent by beat every 30 seconds (config.settings)."""
    health.record_heartbeat(health.WORKER)


# The one periodic reconciler (beat, every 30 seconds). Stuck draws: a draw whose next step is
# due (frozen and past its reveal deadline, drawn and not published, published and not
# notified) is picked up again by the draw tick, which enqueues the run. Stuck outbox rows: a
# row left "sending" by a killed worker is reclaimed after accounts.outbox.RECLAIM_AFTER by the
# delivery run. Both steps are idempotent (state guards and conditional UPDATE claims), hence
# acks_late; the limit covers the draw tick's 10 minutes plus delivery's 50 seconds.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=720, time_limit=780)
def task_reconcile() -> dict:
    from accounts.tasks import task_deliver_outbox
    from lottery.tasks import task_tick_draws

    # Calling a task runs it here, in this worker, not through the broker.
    return {"draws": task_tick_draws(), "outbox_sent": task_deliver_outbox()}
