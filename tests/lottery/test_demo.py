from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import AuditEvent
from booking.models import WindowState
from lottery import kit
from lottery.management.commands.load_demo_draw import CODE
from lottery.models import Draw, DrawState
from tests.lottery.conftest import assert_replays

pytestmark = pytest.mark.django_db


def test_load_demo_draw_publishes_a_replayable_draw_once():
    call_command("load_demo", stdout=None)

    call_command("load_demo_draw")
    call_command("load_demo_draw")

    draw = Draw.objects.select_related("window").get(window__code=CODE)
    assert (draw.state, draw.window.state) == (DrawState.PUBLISHED, WindowState.PUBLISHED)
    assert draw.counts["entries"] == 320
    assert (
        draw.beacon_round == 657413 and draw.parties.filter(revealed_at__isnull=False).count() == 2
    )
    assert_replays(kit.kit_files(draw))
    out = StringIO()
    call_command("verify_audit_log", stdout=out)
    assert out.getvalue().startswith("audit log intact:")
    assert not AuditEvent.objects.filter(actor_label__in=["", "system"]).exists()


def test_load_demo_offers_leaves_three_offers_for_the_demo_applicant_once(client):
    from booking.models import Appointment, AppointmentState
    from lottery.management.commands import load_demo_offers

    call_command("load_demo", stdout=None)

    call_command("load_demo_offers")
    call_command("load_demo_offers")

    draw = Draw.objects.select_related("window").get(window__code=load_demo_offers.CODE)
    assert (draw.state, draw.window.state) == (DrawState.PUBLISHED, WindowState.PUBLISHED)
    mine = Appointment.objects.filter(
        entry__contact__value_hash__isnull=False,
        entry__window=draw.window,
        state=AppointmentState.OFFERED,
    )
    assert mine.count() == 3  # urgent: tier 0, drawn before everybody else
    assert Appointment.objects.filter(entry__window=draw.window).count() == 10
    session = client.session
    session["applicant_contact"] = mine.first().entry.contact_id
    session.save()
    page = client.get("/my/").content.decode()
    assert page.count("/accept/") == 3
    assert_replays(kit.kit_files(draw))
