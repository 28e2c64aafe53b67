"""After the freeze a draw's inputs never change: slots, entries' draw inputs, the frozen files.

The services and the back office refuse it everywhere; on PostgreSQL the triggers of lottery
migration 0005 refuse it whoever writes, while the draw's outputs (ranks, statuses, offers,
cancellations) keep changing.
"""

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, transaction

from accounts.models import AuditEvent, Role
from booking import slots
from booking.models import Appointment, AppointmentState, Entry, Slot
from config.errors import Conflict
from lottery import kit, services, services_offers
from lottery.models import Draw
from tests.factories import (
    EntryFactory,
    SiteFactory,
    SlotFactory,
    StaffFactory,
    WindowFactory,
)

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def frozen(timeline):
    """A window of 12 entries and 4 slots (the first at 09:00 Paris time), frozen."""
    life = timeline(entries=12, slots=4)
    life.close_and_freeze()
    return life


def _local_start(slot: Slot) -> time:
    return Slot.objects.get(pk=slot.pk).starts_at.astimezone(PARIS).time()


def _at_18_45(slot: Slot):
    return slot.starts_at.astimezone(PARIS).replace(hour=18, minute=45)


def _slot_values(slot: Slot, **changes) -> dict:
    values = {name: getattr(slot, name) for name in slots.SLOT_FIELDS}
    return {**values, **changes}


def _admin_form(slot: Slot, window_id: int, starts_at) -> dict:
    local = starts_at.astimezone(PARIS)
    return {
        "window": window_id,
        "site": slot.site_id,
        "procedure": slot.procedure_id,
        "code": slot.code,
        "starts_at_0": local.date().isoformat(),
        "starts_at_1": local.strftime("%H:%M"),
    }


# --- Services ----------------------------------------------------------------------------------


def test_change_slot_of_frozen_window_is_refused(frozen, agent):
    slot = frozen.slots[0]

    with pytest.raises(Conflict) as refused:
        slots.change_slot(
            slot_id=slot.pk, actor=agent, **_slot_values(slot, starts_at=_at_18_45(slot))
        )

    assert refused.value.code == "window_frozen"
    assert _local_start(slot) == time(9, 0)


def test_delete_slot_of_frozen_window_is_refused(frozen, agent):
    with pytest.raises(Conflict) as refused:
        slots.delete_slot(slot_id=frozen.slots[0].pk, actor=agent)

    assert refused.value.code == "window_frozen"
    assert Slot.objects.filter(window=frozen.window).count() == 4


def test_create_slot_in_frozen_window_is_refused(frozen, agent):
    slot = frozen.slots[0]

    with pytest.raises(Conflict) as refused:
        slots.create_slot(actor=agent, **_slot_values(slot, code="EXTRA"))

    assert refused.value.code == "window_frozen"
    assert Slot.objects.filter(window=frozen.window).count() == 4


def test_slot_cannot_move_into_a_frozen_window(frozen, agent):
    elsewhere = SlotFactory(
        window=WindowFactory(prefecture=frozen.window.prefecture, procedures=[frozen.procedure])
    )

    with pytest.raises(Conflict) as refused:
        slots.change_slot(
            slot_id=elsewhere.pk, actor=agent, **_slot_values(elsewhere, window_id=frozen.window_id)
        )

    assert refused.value.code == "window_frozen"
    assert Slot.objects.get(pk=elsewhere.pk).window_id == elsewhere.window_id


def test_window_past_its_freeze_time_refuses_slot_changes_before_the_freeze_runs(timeline, agent):
    life = timeline(entries=2, slots=1)  # freeze_at is two days ago; the freeze has not run
    slot = life.slots[0]

    with pytest.raises(Conflict) as refused:
        slots.delete_slot(slot_id=slot.pk, actor=agent)

    assert (refused.value.code, Slot.objects.filter(pk=slot.pk).count()) == ("window_frozen", 1)


def test_slot_changes_before_the_freeze_are_made_and_audited(window, agent):
    slot = SlotFactory(window=window, code="S1")
    later = slot.starts_at + timedelta(hours=9, minutes=45)

    created = slots.create_slot(actor=agent, **_slot_values(slot, code="S2"))
    slots.change_slot(slot_id=slot.pk, actor=agent, **_slot_values(slot, starts_at=later))
    slots.delete_slot(slot_id=created.pk, actor=agent)

    assert list(Slot.objects.filter(window=window).values_list("code", "starts_at")) == [
        ("S1", later)
    ]
    rows = AuditEvent.objects.filter(action__startswith="slot.").order_by("seq")
    assert [(row.action, row.actor_id, row.target_id) for row in rows] == [
        ("slot.created", agent.pk, str(created.pk)),
        ("slot.changed", agent.pk, str(slot.pk)),
        ("slot.deleted", agent.pk, str(created.pk)),
    ]
    assert list(rows[1].data["changed"]) == ["starts_at"]


# --- The back office ---------------------------------------------------------------------------


def test_agent_sees_a_frozen_slot_read_only_and_cannot_change_it(frozen, agent, login_otp):
    slot = frozen.slots[0]
    client = login_otp(agent)
    url = f"/admin/booking/slot/{slot.pk}/change/"

    page = client.get(url)
    posted = client.post(url, _admin_form(slot, frozen.window_id, _at_18_45(slot)))

    assert (page.status_code, page.context["has_change_permission"]) == (200, False)
    assert page.context["has_delete_permission"] is False
    assert posted.status_code == 403
    assert _local_start(slot) == time(9, 0)
    assert not AuditEvent.objects.filter(action__startswith="slot.").exists()


def test_agent_cannot_add_a_slot_to_a_frozen_window(frozen, agent, login_otp):
    slot = frozen.slots[0]
    client = login_otp(agent)
    form = {**_admin_form(slot, frozen.window_id, _at_18_45(slot)), "code": "EXTRA"}

    response = client.post("/admin/booking/slot/add/", form)

    errors = response.context["adminform"].form.errors
    assert errors["window"] == [str(slots.frozen_refusal().message)]
    assert Slot.objects.filter(window=frozen.window).count() == 4


def test_agent_change_of_an_open_windows_slot_goes_through_the_service(window, agent, login_otp):
    slot = SlotFactory(window=window)
    later = (slot.starts_at + timedelta(hours=2)).replace(second=0, microsecond=0)
    client = login_otp(agent)

    response = client.post(
        f"/admin/booking/slot/{slot.pk}/change/", _admin_form(slot, window.pk, later)
    )

    assert response.status_code == 302
    assert Slot.objects.get(pk=slot.pk).starts_at == later
    changed = AuditEvent.objects.get(action="slot.changed")
    assert (changed.actor_id, changed.target_id) == (agent.pk, str(slot.pk))


def test_agent_adds_a_slot_to_an_open_window_through_the_service(window, agent, login_otp):
    model = SlotFactory.build(window=window, site=SiteFactory(prefecture=window.prefecture))
    client = login_otp(agent)
    starts_at = model.starts_at.replace(second=0, microsecond=0)

    response = client.post(
        "/admin/booking/slot/add/", {**_admin_form(model, window.pk, starts_at), "code": "NEW"}
    )

    assert response.status_code == 302
    added = Slot.objects.get(window=window, code="NEW")
    assert (added.starts_at, added.site_id) == (starts_at, model.site_id)
    created = AuditEvent.objects.get(action="slot.created")
    assert (created.actor_id, created.target_id) == (agent.pk, str(added.pk))


def test_superuser_sees_a_frozen_windows_entry_read_only_and_cannot_delete_it(
    frozen, prefecture, login_otp
):
    superuser = StaffFactory(is_superuser=True, role=Role.SUPERVISOR, prefecture=prefecture)
    entry = frozen.entries[0]
    client = login_otp(superuser)

    page = client.get(f"/admin/booking/entry/{entry.pk}/change/")
    deleted = client.post(f"/admin/booking/entry/{entry.pk}/delete/", {"post": "yes"})

    assert (page.status_code, page.context["has_change_permission"]) == (200, False)
    assert deleted.status_code == 403
    assert Entry.objects.filter(pk=entry.pk).count() == 1


# --- The database (PostgreSQL triggers) --------------------------------------------------------


def _inputs(life) -> tuple:
    """Everything the triggers keep: the window's slots, entries with their inputs and sites,
    and the draw's frozen columns."""
    return (
        list(Slot.objects.filter(window=life.window).order_by("pk").values_list()),
        list(
            Entry.objects.filter(window=life.window)
            .order_by("pk")
            .values_list("pk", "entry_id", "tier", "weight", "excluded_weekdays", "person_id")
        ),
        list(Entry.sites.through.objects.filter(entry__window=life.window).values_list()),
        Draw.objects.values_list("frozen_at", "entries_digest", "slots_digest").get(
            window=life.window
        ),
    )


def _move_slot(life):
    Slot.objects.filter(pk=life.slots[0].pk).update(starts_at=_at_18_45(life.slots[0]))


def _delete_slot(life):
    Slot.objects.filter(pk=life.slots[0].pk).delete()


def _insert_slot(life):
    SlotFactory(window=life.window, site=life.sites[0], procedure=life.procedure, code="EXTRA")


def _change_tier(life):
    Entry.objects.filter(pk=life.entries[0].pk).update(tier=0)


def _change_weekdays(life):
    Entry.objects.filter(pk=life.entries[0].pk).update(excluded_weekdays="3")


def _delete_entry(life):
    Entry.objects.filter(pk=life.entries[0].pk).delete()


def _insert_entry(life):
    EntryFactory(window=life.window, procedure=life.procedure)


def _add_site(life):
    life.entries[0].sites.add(life.sites[0])


def _change_digest(life):
    Draw.objects.filter(window=life.window).update(slots_digest="0" * 64)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "change",
    [
        _move_slot,
        _delete_slot,
        _insert_slot,
        _change_tier,
        _change_weekdays,
        _delete_entry,
        _insert_entry,
        _add_site,
        _change_digest,
    ],
)
def test_database_refuses_changing_a_frozen_draws_inputs(frozen, change):
    before = _inputs(frozen)

    with pytest.raises(DatabaseError, match="frozen draw"), transaction.atomic():
        change(frozen)

    assert _inputs(frozen) == before


@pytest.mark.postgres
def test_freeze_writes_tiers_back_under_the_trigger_and_they_stay(timeline):
    life = timeline(entries=3, slots=2)
    urgent = EntryFactory(window=life.window, procedure=life.procedure, urgent_approved=True)

    life.close_and_freeze()

    assert Entry.objects.get(pk=urgent.pk).tier == 0  # written back by the freeze itself
    with pytest.raises(DatabaseError, match="frozen draw"), transaction.atomic():
        Entry.objects.filter(pk=urgent.pk).update(tier=1)
    assert Entry.objects.get(pk=urgent.pk).tier == 0


@pytest.mark.postgres
def test_draw_and_cancellation_still_work_under_the_triggers(frozen):
    frozen.reveal_operator()

    outcome = frozen.draw()
    services.publish_draw(window_id=frozen.window_id)
    drawn = Appointment.objects.filter(slot__window=frozen.window).order_by("entry__rank").first()
    services_offers.accept_offer(appointment_id=drawn.pk)
    reoffer = services_offers.cancel_appointment(appointment_id=drawn.pk)

    assert outcome == "drawn"
    assert Appointment.objects.get(pk=drawn.pk).state == AppointmentState.CANCELLED
    assert (reoffer.slot_id, reoffer.state) == (drawn.slot_id, AppointmentState.OFFERED)
    lines = kit.kit_files(Draw.objects.get(window=frozen.window))["events.log"].decode()
    assert [line.split(",")[2] for line in lines.splitlines()] == ["cancel", "offer"]
