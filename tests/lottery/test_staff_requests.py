"""The four-eyes staff page: ask, decide others' requests, never one's own, never elsewhere."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.models import Role
from booking.models import Entry, WindowState
from lottery.models import RequestKind, RequestState, StaffRequest
from tests.factories import EntryFactory, StaffFactory, WindowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_window(prefecture):
    now = timezone.now()
    return WindowFactory(
        prefecture=prefecture,
        code="ISERE-2031-01",
        state=WindowState.OPEN,
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=3),
        freeze_at=now + timedelta(days=3),
        reveal_deadline=now + timedelta(days=4),
    )


def _ask_urgency(client, entry, window):
    return client.post(
        "/staff/requests/",
        {"kind": "urgency", "window": window.code, "target": entry.pseudonym, "reason": "Lost"},
    )


def test_an_agent_asks_and_a_supervisor_approves(open_window, agent, supervisor, login_otp):
    entry = EntryFactory(window=open_window)

    asked = _ask_urgency(login_otp(agent), entry, open_window)
    request = StaffRequest.objects.get()
    decided = login_otp(supervisor).post(
        f"/staff/requests/{request.pk}/decide/", {"decision": "approve", "note": "Seen"}
    )

    assert (asked.status_code, decided.status_code) == (302, 302)
    request.refresh_from_db()
    assert (request.kind, request.state, request.decided_by) == (
        RequestKind.URGENCY,
        RequestState.APPROVED,
        supervisor,
    )
    assert Entry.objects.get(pk=entry.pk).tier == 0


def test_the_requester_is_offered_no_decision_form(open_window, supervisor, login_otp):
    entry = EntryFactory(window=open_window)
    client = login_otp(supervisor)
    _ask_urgency(client, entry, open_window)

    page = client.get("/staff/requests/").content.decode()
    posted = client.post(
        f"/staff/requests/{StaffRequest.objects.get().pk}/decide/", {"decision": "approve"}
    )

    assert f'action="/staff/requests/{StaffRequest.objects.get().pk}/decide/"' not in page
    assert posted.status_code == 302
    assert StaffRequest.objects.get().state == RequestState.PENDING
    assert Entry.objects.get(pk=entry.pk).tier == 1


def test_another_prefectures_supervisor_gets_404(open_window, agent, other_prefecture, login_otp):
    _ask_urgency(login_otp(agent), EntryFactory(window=open_window), open_window)
    foreign = StaffFactory(prefecture=other_prefecture, role=Role.SUPERVISOR)

    response = login_otp(foreign).post(
        f"/staff/requests/{StaffRequest.objects.get().pk}/decide/", {"decision": "approve"}
    )

    assert response.status_code == 404
    assert StaffRequest.objects.get().state == RequestState.PENDING
    assert "ISERE-2031-01" not in login_otp(foreign).get("/staff/requests/").content.decode()


def test_a_wrong_reference_is_a_clear_error_that_stores_nothing(open_window, agent, login_otp):
    response = login_otp(agent).post(
        "/staff/requests/",
        {"kind": "urgency", "window": open_window.code, "target": "E-00000000", "reason": "x"},
    )

    assert response.status_code == 400
    with translation.override("fr"):
        expected = gettext("No single entry has this reference in this window.")
    assert response.context["form"].non_field_errors() == [expected]
    assert expected.replace("'", "&#x27;") in response.content.decode()
    assert StaffRequest.objects.count() == 0


def test_an_auditor_reads_but_cannot_ask(open_window, auditor, login_otp):
    client = login_otp(auditor)

    page = client.get("/staff/requests/")
    posted = client.post(
        "/staff/requests/", {"kind": "early_close", "window": open_window.code, "reason": "x"}
    )

    assert (page.status_code, posted.status_code) == (200, 403)
    assert page.context["form"] is None
    assert StaffRequest.objects.count() == 0


def test_a_helper_and_an_anonymous_visitor_are_kept_out(prefecture, client, login_otp):
    anonymous = client.get("/staff/requests/")
    helper = login_otp(StaffFactory(prefecture=prefecture, role=Role.HELPER))

    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    assert helper.get("/staff/requests/").status_code == 404


def test_the_staff_home_links_each_window_and_counts_what_waits(
    open_window, agent, supervisor, login_otp, django_assert_max_num_queries
):
    from lottery import four_eyes

    four_eyes.request_early_close(window_id=open_window.pk, actor=agent, reason="x")
    client = login_otp(supervisor)

    with django_assert_max_num_queries(12):
        page = client.get("/staff/")

    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/staff/windows/{open_window.code}/"' in html
    assert f'href="/staff/windows/{open_window.code}/duplicates/"' in html
    assert page.context["pending_requests"] == 1
    assert [w.code for w in page.context["windows"]] == [open_window.code]
