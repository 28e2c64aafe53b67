from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.crypto import blind_index
from accounts.models import AuditEvent, User
from booking import checkin_token
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


def test_load_demo_offers_leaves_two_offers_for_the_demo_applicant_once(client):
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
    assert mine.count() == 2  # urgent: tier 0, drawn before everybody else
    assert Appointment.objects.filter(entry__window=draw.window).count() == 10
    session = client.session
    session["applicant_contact"] = mine.first().entry.contact_id
    session.save()
    page = client.get("/my/").content.decode()
    assert page.count("/accept/") == 2
    assert_replays(kit.kit_files(draw))


def test_load_demo_offers_can_leave_a_due_draw_to_the_reconciler():
    from lottery import services_tick
    from lottery.management.commands import load_demo_offers
    from lottery.tasks import task_run_draw

    call_command("load_demo", stdout=None)

    out = StringIO()
    call_command("load_demo_offers", "--leave-draw-to-worker", stdout=out)
    left = Draw.objects.get(window__code=load_demo_offers.CODE)
    due = services_tick.tick_draws()["due"]
    outcome = task_run_draw.apply(args=[left.window_id]).get()  # as the reconciler enqueues it
    services_tick.tick_draws()

    assert out.getvalue() == f"Demo draw due, left to the worker: /draws/{left.window.code}/\n"
    assert left.state == DrawState.FROZEN and left.window_id in due
    assert outcome == "drawn"
    assert Draw.objects.get(pk=left.pk).state == DrawState.PUBLISHED
    run = AuditEvent.objects.get(action="draw.run", target_id=str(left.pk))
    assert run.actor_label == "task_run_draw"


def test_load_demo_today_gives_the_demo_applicant_a_confirmed_appointment_to_check_in(client):
    from booking import checkin
    from booking.models import Appointment, AppointmentState
    from lottery.management.commands import load_demo_offers, load_demo_today

    call_command("load_demo", stdout=None)
    call_command("load_demo_offers", stdout=None)
    out = StringIO()

    call_command("load_demo_today", stdout=out)
    call_command("load_demo_today", stdout=StringIO())

    code = load_demo_today.window_code(checkin.today())
    mine = Appointment.objects.filter(
        slot__window__code=code, entry__contact__isnull=False, state=AppointmentState.CONFIRMED
    )
    assert mine.count() == 1 and Appointment.objects.filter(slot__window__code=code).count() == 2
    appointment = mine.get()
    phone_hash = blind_index("contact", load_demo_offers.PHONE)
    assert appointment.entry.contact.value_hash == phone_hash  # the demo applicant's
    assert appointment.slot.site.prefecture.code == "ISERE"
    assert checkin_token.local_day(appointment) == checkin.today()
    session = client.session
    session["applicant_contact"] = appointment.entry.contact_id
    session.save()
    convocation = reverse("my-convocation", args=[appointment.pk])
    assert convocation in out.getvalue()
    assert client.get(convocation).status_code == 200
    agent = User.objects.get(username="agent.isere")
    checked = checkin.check_in_with_code(
        text=checkin_token.make_token(appointment), actor=agent, desk="1"
    )
    assert checked.state == AppointmentState.CHECKED_IN
    audit_out = StringIO()
    call_command("verify_audit_log", stdout=audit_out)
    assert audit_out.getvalue().startswith("audit log intact:")
    assert not AuditEvent.objects.filter(actor_label__in=["", "system"]).exists()
