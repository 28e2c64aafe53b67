from celery import shared_task

from ops import health


# A repeat or a lost run is harmless (the next one writes the time again), and one that runs
# late must not count as fresh: no retries, and it expires well before /readyz's limit.
@shared_task(ignore_result=True, expires=60, soft_time_limit=10, time_limit=20)
def task_heartbeat() -> None:
    """The worker's heartbeat, sent by beat every 30 seconds (config.settings)."""
    health.record_heartbeat(health.WORKER)
