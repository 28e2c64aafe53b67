import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import audit
from accounts.models import AuditEvent
from booking import services
from booking.models import Window, WindowState
from tests.conftest import run_concurrently
from tests.factories import WindowFactory


def _scheduled(**kwargs):
    now = timezone.now()
    return WindowFactory(state=WindowState.SCHEDULED, opens_at=now + timedelta(hours=1), **kwargs)


def test_tick_opens_a_due_window_and_audits_it(db):
    window = WindowFactory(state=WindowState.SCHEDULED)

    done = services.tick_windows()

    window.refresh_from_db()
    assert done == {WindowState.OPEN: 1, WindowState.CLOSED: 0}
    assert window.state == WindowState.OPEN
    assert list(AuditEvent.objects.values_list("action", "target_id")) == [
        ("window.open", str(window.pk))
    ]


def test_tick_leaves_a_window_whose_time_has_not_come(db):
    window = _scheduled()

    done = services.tick_windows()

    window.refresh_from_db()
    assert done == {WindowState.OPEN: 0, WindowState.CLOSED: 0}
    assert window.state == WindowState.SCHEDULED
    assert AuditEvent.objects.count() == 0


def test_tick_closes_an_open_window_past_its_close(db):
    now = timezone.now()
    window = WindowFactory(opens_at=now - timedelta(days=3), closes_at=now - timedelta(minutes=1))

    services.tick_windows()

    window.refresh_from_db()
    assert window.state == WindowState.CLOSED


def test_tick_twice_is_one_transition(db):
    WindowFactory(state=WindowState.SCHEDULED)

    first, second = services.tick_windows(), services.tick_windows()

    assert first[WindowState.OPEN] == 1 and second[WindowState.OPEN] == 0
    assert AuditEvent.objects.filter(action="window.open").count() == 1


def test_window_decisions_use_database_time(db, monkeypatch):
    # A web node whose clock runs a day ahead must not open the window early.
    window = _scheduled()
    skewed = timezone.now() + timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: skewed)

    services.tick_windows()

    window.refresh_from_db()
    assert window.state == WindowState.SCHEDULED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_give_one_transition_and_one_audit_row(monkeypatch):
    window = WindowFactory(state=WindowState.SCHEDULED)
    real_record = audit.record
    entered = threading.Event()

    def slow_record(*args, **kwargs):
        # Hold the first transaction open (row locked) while the second tick runs into it.
        entered.set()
        time.sleep(0.5)
        return real_record(*args, **kwargs)

    monkeypatch.setattr(audit, "record", slow_record)

    def second_tick():
        entered.wait(5)
        return services.tick_windows()

    outcomes = run_concurrently(services.tick_windows, second_tick)

    assert [exc for _, exc in outcomes] == [None, None]
    assert sorted(result[WindowState.OPEN] for result, _ in outcomes) == [0, 1]
    assert Window.objects.get(pk=window.pk).state == WindowState.OPEN
    assert AuditEvent.objects.filter(action="window.open").count() == 1
