"""Slots from a template: weekdays, breaks, desks, public holidays, a preview that saves
nothing, idempotent generation, and nothing once the window is frozen."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from booking import capacity
from booking.models import Slot, WindowState
from config.errors import Conflict
from tests.factories import ProcedureFactory, SiteFactory, WindowFactory

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


def _template(site, procedure, **changes) -> capacity.Template:
    fields = {
        "site_id": site.pk,
        "site_code": site.code,
        "procedure_id": procedure.pk,
        "first_day": date(2027, 5, 3),  # Monday
        "last_day": date(2027, 5, 7),  # Friday; Thursday 6 is Ascension
        "weekdays": frozenset({1, 2, 3, 4, 5}),
        "periods": ((time(9, 0), time(12, 0)), (time(13, 30), time(15, 0))),
        "minutes": 30,
        "desks": 2,
        **changes,
    }
    return capacity.Template(**fields)


@pytest.fixture
def open_window(prefecture):
    now = timezone.now()
    procedure = ProcedureFactory(prefecture=prefecture)
    return WindowFactory(
        prefecture=prefecture,
        procedures=[procedure],
        state=WindowState.OPEN,
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=3),
        freeze_at=now + timedelta(days=3),
        reveal_deadline=now + timedelta(days=4),
    )


def test_plan_counts_periods_breaks_desks_and_skips_holidays(prefecture):
    site = SiteFactory(prefecture=prefecture, code="GRENOBLE")
    template = _template(site, ProcedureFactory(prefecture=prefecture))

    planned = capacity.plan(template)

    # 6 starts in the morning, 3 after the break, 2 desks: 18 a day, on 4 days (not Ascension).
    assert capacity.totals_per_day(planned) == [
        (date(2027, 5, 3), 18),
        (date(2027, 5, 4), 18),
        (date(2027, 5, 5), 18),
        (date(2027, 5, 7), 18),
    ]
    first, last = planned[0], planned[-1]
    assert (first.code, first.starts_at) == (
        "GRENOBLE_20270503_0900_1",
        datetime(2027, 5, 3, 9, 0, tzinfo=PARIS),
    )
    assert last.starts_at.astimezone(PARIS).time() == time(14, 30)  # 14:30-15:00 is the last
    assert len({slot.code for slot in planned}) == len(planned) == 72


def test_overseas_calendars_have_their_own_holidays(prefecture):
    site = SiteFactory(prefecture=prefecture, code="SAINTDENIS")
    days = {"first_day": date(2027, 12, 20), "last_day": date(2027, 12, 20)}  # a Monday
    procedure = ProcedureFactory(prefecture=prefecture)

    metropolitan = capacity.plan(_template(site, procedure, **days))
    reunion = capacity.plan(_template(site, procedure, calendar="974", **days))

    assert (len(metropolitan), len(reunion)) == (18, 0)  # 20 December: abolition of slavery


def test_generate_saves_the_plan_once_and_audits_it(open_window, agent):
    site = SiteFactory(prefecture=open_window.prefecture, code="GRENOBLE")
    template = _template(site, open_window.procedures.get())

    added = capacity.generate_slots(window_id=open_window.pk, template=template, actor=agent)
    again = capacity.generate_slots(window_id=open_window.pk, template=template, actor=agent)

    assert (added, again) == (72, 0)
    assert Slot.objects.filter(window=open_window).count() == 72
    rows = list(AuditEvent.objects.filter(action="slots.generated").order_by("seq"))
    assert [(row.actor_id, row.data["added"], row.data["already_there"]) for row in rows] == [
        (agent.pk, 72, 0),
        (agent.pk, 0, 72),
    ]


def test_generate_is_refused_once_the_window_is_frozen(open_window, agent):
    site = SiteFactory(prefecture=open_window.prefecture)
    open_window.frozen_at = timezone.now()
    open_window.save(update_fields=["frozen_at"])

    with pytest.raises(Conflict, match="window_frozen"):
        capacity.generate_slots(
            window_id=open_window.pk,
            template=_template(site, open_window.procedures.get()),
            actor=agent,
        )

    assert Slot.objects.count() == 0


def _form(open_window, site, **changes):
    return {
        "site": site.pk,
        "procedure": open_window.procedures.get().pk,
        "first_day": "2027-05-03",
        "last_day": "2027-05-07",
        "weekdays": ["1", "2", "3", "4", "5"],
        "periods": "09:00-12:00, 13h30-15h00",
        "minutes": "30",
        "desks": "2",
        "calendar": "FR",
        **changes,
    }


def test_the_page_previews_without_saving_then_creates(open_window, agent, login_otp):
    site = SiteFactory(prefecture=open_window.prefecture)
    client = login_otp(agent)
    url = f"/staff/windows/{open_window.code}/"

    preview = client.post(url, {**_form(open_window, site), "preview": "1"})
    assert preview.status_code == 200
    assert preview.context["preview_total"] == 72
    assert dict(preview.context["closed_days"]) == {date(2027, 5, 6): "Ascension"}
    assert Slot.objects.count() == 0

    created = client.post(url, {**_form(open_window, site), "create": "1"})

    assert created.status_code == 302
    assert Slot.objects.filter(window=open_window, site=site).count() == 72


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"periods": "9-12"}, "periods"),
        ({"periods": "12:00-09:00"}, "periods"),
        ({"periods": "09:00-12:00, 11:00-13:00"}, "periods"),
        ({"last_day": "2027-09-30"}, "last_day"),
        ({"minutes": "0"}, "minutes"),
    ],
)
def test_bad_templates_name_their_field_and_save_nothing(
    open_window, agent, login_otp, changes, field
):
    site = SiteFactory(prefecture=open_window.prefecture)

    response = login_otp(agent).post(
        f"/staff/windows/{open_window.code}/",
        {**_form(open_window, site, **changes), "create": "1"},
    )

    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    assert Slot.objects.count() == 0


def test_an_auditor_reads_the_counts_but_cannot_generate(open_window, auditor, login_otp):
    site = SiteFactory(prefecture=open_window.prefecture)
    client = login_otp(auditor)

    page = client.get(f"/staff/windows/{open_window.code}/")
    posted = client.post(
        f"/staff/windows/{open_window.code}/", {**_form(open_window, site), "create": "1"}
    )

    assert (page.status_code, posted.status_code) == (200, 403)
    assert page.context["form"] is None
    assert Slot.objects.count() == 0
