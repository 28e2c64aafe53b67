"""The beat tick and the draw task, and the draw under real concurrency."""

from datetime import timedelta

import pytest

from accounts.models import AuditEvent
from booking.models import Appointment, WindowState
from booking.services import tick_windows
from lottery import clock
from lottery.models import Draw, DrawState
from lottery.services_run import run_draw
from lottery.tasks import task_run_draw, task_tick_draws
from tests.conftest import run_concurrently
from tests.factories import WindowFactory


@pytest.mark.django_db
def test_tick_announces_unannounced_windows_once(prefecture):
    window = WindowFactory(prefecture=prefecture, state=WindowState.SCHEDULED)

    first = task_tick_draws.apply().get()
    second = task_tick_draws.apply().get()

    assert (first["announced"], second["announced"]) == (1, 0)
    assert Draw.objects.get(window=window).state == DrawState.ANNOUNCED


@pytest.mark.django_db
def test_tick_walks_a_window_through_freeze_draw_and_publication(timeline, monkeypatch):
    life = timeline()
    enqueued = []
    monkeypatch.setattr(task_run_draw, "delay", enqueued.append)
    tick_windows()

    with clock.at(life.window.freeze_at + timedelta(minutes=1)):
        at_freeze = task_tick_draws.apply().get()
    due = task_tick_draws.apply().get()
    drawn = task_run_draw.apply(args=[life.window_id]).get()
    again = task_run_draw.apply(args=[life.window_id]).get()
    published = task_tick_draws.apply().get()

    assert (at_freeze["frozen"], at_freeze["revealed"]) == (1, 1)
    assert enqueued == [life.window_id]
    assert due["published"] == 0
    assert (drawn, again) == ("drawn", "skipped")
    assert published["published"] == 1
    assert Draw.objects.get(window=life.window).state == DrawState.PUBLISHED


@pytest.mark.django_db
def test_task_run_draw_for_a_window_without_draw_does_nothing():
    assert task_run_draw.apply(args=[987654]).get() is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_draw_runs_give_one_result(timeline):
    life = timeline(entries=200, slots=50)
    life.close_and_freeze()
    life.reveal_operator()

    outcomes = run_concurrently(
        lambda: run_draw(window_id=life.window_id), lambda: run_draw(window_id=life.window_id)
    )

    assert [error for _, error in outcomes] == [None, None]
    assert sorted(result for result, _ in outcomes) == ["drawn", "skipped"]
    assert AuditEvent.objects.filter(action="draw.run").count() == 1
    assert AuditEvent.objects.filter(action="draw.skipped").count() == 1
    assert Appointment.objects.filter(entry__window=life.window).count() == 50
