"""Coalesced delivery kicks with a real Celery worker (PostgreSQL + Redis): every message is
delivered once, by fewer runs than messages, including messages committed after a run began."""

import os
import signal
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from kombu import Connection

from accounts import outbox, tasks
from accounts.models import OutboxMessage, OutboxState
from tests.celery_worker import forget, start_worker, transport_options, wait_for


def _enqueue(keys):
    for key in keys:
        with transaction.atomic():  # each message its own commit, hence its own kick
            outbox.enqueue_message(
                channel="phone", recipient="+33612345678", body=f"m {key}", dedup_key=key
            )


def _sent(keys) -> bool:
    return OutboxMessage.objects.filter(dedup_key__in=keys, state=OutboxState.SENT).count() == len(
        keys
    )


@pytest.mark.slow
@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_coalesced_kicks_deliver_every_message_once_through_a_real_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "OUTBOX_COALESCE_KICKS", True)
    queue = f"test-outbox-{uuid.uuid4().hex}"
    broker = Connection(settings.CELERY_BROKER_URL, transport_options=transport_options(queue))
    runs = []

    def kick():  # the real task, on this test's own queue
        runs.append(1)
        tasks.task_deliver_outbox.apply_async(queue=queue, connection=broker)

    monkeypatch.setattr(tasks.task_deliver_outbox, "delay", kick)
    cache.delete(outbox.KICK_FLAG)
    first = [f"w1-{i}" for i in range(30)]
    later = [f"w2-{i}" for i in range(10)]
    worker = start_worker(queue, tmp_path / "worker.log")
    try:
        _enqueue(first)  # committed while the worker starts: they ride on one queued run
        wait_for(lambda: _sent(first), 60, "the first messages")
        _enqueue(later)  # after that run cleared the flag: new kicks
        wait_for(lambda: _sent(later), 60, "the later messages")
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        broker.release()
        forget(queue)

    messages = OutboxMessage.objects.filter(dedup_key__in=first + later)
    assert set(messages.values_list("state", flat=True)) == {OutboxState.SENT}
    assert set(messages.values_list("attempts", flat=True)) == {1}  # each sent once
    assert 2 <= len(runs) < len(first) + len(later)
