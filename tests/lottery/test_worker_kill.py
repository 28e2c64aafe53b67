"""SIGKILL of a real Celery worker in the middle of the draw (PostgreSQL + Redis).

The test holds a lock on the window row, so the worker's draw transaction stops at its last
statement (closed -> drawn) with results, ranks and appointments already written inside it.
The worker is then killed with SIGKILL: PostgreSQL rolls the open transaction back, nothing is
half-written, and the same message, redelivered by Redis (acks_late), runs the draw again on a
new worker and produces the results digest of an uninterrupted run.
"""

import os
import signal
import uuid

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from kombu import Connection

from booking.models import Appointment, Entry
from lottery.fairdraw import canonical, crypto, engine
from lottery.models import Draw, DrawState
from lottery.services_run import compute_draw_seed
from lottery.tasks import task_run_draw
from tests.celery_worker import dsn, forget, start_worker, transport_options, wait_for


def _enqueue(window_id: int, queue: str) -> None:
    with Connection(settings.CELERY_BROKER_URL,
                    transport_options=transport_options(queue)) as broker:  # fmt: skip
        task_run_draw.apply_async(args=[window_id], queue=queue, connection=broker)


def _blocked_draw_backend(admin) -> int | None:
    row = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE %s",
        ['UPDATE "booking_window"%'],
    ).fetchone()
    return row[0] if row else None


@pytest.mark.slow
@pytest.mark.celery_worker
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_worker_killed_during_the_draw_leaves_nothing_and_retry_gives_same_digest(
    timeline, tmp_path
):
    life = timeline(entries=300, slots=80)
    life.close_and_freeze()
    life.reveal_operator()
    draw = Draw.objects.select_related("window").get(window=life.window)
    expected = crypto.file_digest(canonical.results_csv(engine.draw(
        canonical.parse_entries(bytes(draw.entries_csv)),
        canonical.parse_slots(bytes(draw.slots_csv)), compute_draw_seed(draw),
    ))).hex()  # fmt: skip
    queue = f"test-draw-{uuid.uuid4().hex}"
    connection.close()
    admin = psycopg.connect(dsn(), autocommit=True)
    blocker = psycopg.connect(dsn())
    blocker.execute("SELECT id FROM booking_window WHERE id = %s FOR UPDATE", [life.window_id])
    first = start_worker(queue, tmp_path / "worker1.log")
    second = None
    try:
        _enqueue(life.window_id, queue)
        backend = wait_for(lambda: _blocked_draw_backend(admin), 60, "the draw to block")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        blocker.rollback()
        wait_for(
            lambda: (
                not admin.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [backend]
                ).fetchone()
            ),
            30,
            "the killed draw's rollback",
        )

        assert Draw.objects.get(pk=draw.pk).state == DrawState.FROZEN
        assert not Appointment.objects.filter(entry__window=life.window).exists()
        assert not Entry.objects.filter(window=life.window, rank__isnull=False).exists()

        second = start_worker(queue, tmp_path / "worker2.log")
        wait_for(
            lambda: Draw.objects.get(pk=draw.pk).state != DrawState.FROZEN,
            90,
            "the redelivered draw",
        )
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
        blocker.close()
        admin.close()
        forget(queue)

    done = Draw.objects.get(pk=draw.pk)
    appointments = Appointment.objects.filter(entry__window=life.window)
    assert done.results_digest == expected
    assert appointments.count() == 80
    assert appointments.values("slot").distinct().count() == 80
    assert appointments.values("entry").distinct().count() == 80
