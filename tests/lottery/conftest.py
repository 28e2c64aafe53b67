"""Builders for draw tests: a window walked through its timeline with the real services."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from booking.models import WindowState
from booking.services import tick_windows
from lottery import clock, kit, services, services_reveal
from lottery.models import BeaconMode
from lottery.services_run import run_draw
from tests.factories import (
    EntryFactory,
    ProcedureFactory,
    SiteFactory,
    SlotFactory,
    WindowFactory,
)


class Timeline:
    """A window whose registration closed two days ago and whose reveal deadline was yesterday;
    each step runs the real service at the moment it would have run."""

    def __init__(self, prefecture, *, entries=20, slots=8, beacon_mode=BeaconMode.NONE, **times):
        now = timezone.now().replace(microsecond=0)
        self.procedure = ProcedureFactory(prefecture=prefecture, code="RENEWAL")
        self.sites = [SiteFactory(prefecture=prefecture, code=c) for c in ("GRENOBLE", "VIENNE")]
        closes = times.get("closes_at", now - timedelta(days=2))
        self.window = WindowFactory(
            prefecture=prefecture,
            procedures=[self.procedure],
            opens_at=closes - timedelta(days=5),
            closes_at=closes,
            freeze_at=closes,
            reveal_deadline=times.get("reveal_deadline", closes + timedelta(days=1)),
            state=WindowState.OPEN,
        )
        services.announce_draw(window_id=self.window.pk, beacon_mode=beacon_mode)
        self.entries = EntryFactory.create_batch(
            entries, window=self.window, procedure=self.procedure
        )
        # From 09:00 Paris time, a week after the reveals: the slots of a small timeline share
        # one day whatever the hour the tests run at (tests rely on that).
        base = (
            (self.window.reveal_deadline + timedelta(days=7))
            .astimezone(ZoneInfo("Europe/Paris"))
            .replace(hour=9, minute=0, second=0, microsecond=0)
        )
        self.slots = [
            SlotFactory(
                window=self.window,
                site=self.sites[i % 2],
                procedure=self.procedure,
                code=f"S{i:04d}",
                starts_at=base + timedelta(minutes=30 * i),
            )
            for i in range(slots)
        ]

    @property
    def window_id(self):
        return self.window.pk

    def close_and_freeze(self):
        tick_windows()
        with clock.at(self.window.freeze_at + timedelta(minutes=1)):
            services.freeze_draw(window_id=self.window_id)

    def reveal_operator(self):
        with clock.at(self.window.freeze_at + timedelta(minutes=2)):
            services_reveal.reveal_operator_secret(window_id=self.window_id)

    def draw(self):
        return run_draw(window_id=self.window_id)

    def run_all(self):
        self.close_and_freeze()
        self.reveal_operator()
        outcome = self.draw()
        services.publish_draw(window_id=self.window_id)
        return outcome


@pytest.fixture
def timeline(prefecture):
    def build(**kwargs):
        return Timeline(prefecture, **kwargs)

    return build


def assert_replays(files: dict[str, bytes]) -> None:
    """The engine's replay holds on these kit files, results.csv compared byte for byte."""
    report = kit.verify_kit(files)
    assert all(line.startswith("OK") for line in report), report
    assert any(line.startswith("OK   results.csv") for line in report), report
