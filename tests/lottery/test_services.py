from datetime import timedelta

import pytest

from accounts.models import AuditEvent
from booking.models import Appointment, AppointmentState, Entry, EntryStatus, WindowState
from config.errors import Conflict, DomainError
from lottery import clock, kit, services, services_reveal, services_run
from lottery.fairdraw import canonical, crypto
from lottery.models import Draw, DrawParty, DrawState, OperatorSecret
from lottery.services_run import counted_secrets
from tests.lottery.conftest import assert_replays

pytestmark = pytest.mark.django_db


def test_announce_draw_commits_operator_secret_once(window):
    assert services.announce_draw(window_id=window.pk) is True
    assert services.announce_draw(window_id=window.pk) is False

    party = DrawParty.objects.get(draw__window=window)
    secret = bytes.fromhex(OperatorSecret.objects.get(party=party).secret)
    assert party.is_operator and party.party_id == window.prefecture.code
    assert party.commitment == crypto.commitment(window.code, party.party_id, secret).hex()
    assert AuditEvent.objects.filter(action="draw.announced").count() == 1


def test_window_life_draws_ranks_offers_and_publishes(timeline):
    life = timeline(entries=20, slots=8)

    assert life.run_all() == "drawn"

    draw = Draw.objects.get(window=life.window)
    life.window.refresh_from_db()
    assert (draw.state, life.window.state) == (DrawState.PUBLISHED, WindowState.PUBLISHED)
    rows = canonical.parse_results(bytes(draw.results_csv))
    assert_replays(kit.kit_files(draw))
    by_id = {e.entry_id: e for e in Entry.objects.filter(window=life.window)}
    for row in rows:
        entry = by_id[row.entry_id]
        assert entry.rank == row.rank
        assert entry.status == (EntryStatus.SELECTED if row.slot_id else EntryStatus.WAITING)
    offered = Appointment.objects.filter(entry__window=life.window, state=AppointmentState.OFFERED)
    assert sorted(a.slot.code for a in offered) == sorted(r.slot_id for r in rows if r.slot_id)
    assert offered.count() == 8


def test_run_draw_twice_second_run_is_skipped(timeline):
    life = timeline()
    life.close_and_freeze()
    life.reveal_operator()

    assert life.draw() == "drawn"
    digest = Draw.objects.get(window=life.window).results_digest
    assert life.draw() == "skipped"

    assert Draw.objects.get(window=life.window).results_digest == digest
    assert AuditEvent.objects.filter(action="draw.skipped").count() == 1
    assert AuditEvent.objects.filter(action="draw.run").count() == 1
    assert Appointment.objects.filter(entry__window=life.window).count() == 8


def _assert_nothing_drawn(life) -> None:
    assert Draw.objects.get(window=life.window).state == DrawState.FROZEN
    assert not Appointment.objects.filter(entry__window=life.window).exists()
    assert not Entry.objects.filter(window=life.window, rank__isnull=False).exists()


def test_run_draw_failing_midway_leaves_nothing_and_rerun_gives_same_digest(timeline, monkeypatch):
    life = timeline()
    life.close_and_freeze()
    life.reveal_operator()
    seen = {}

    def crash(**kwargs):
        # Outcomes are written by now: the crash must take them back with it.
        draw = Draw.objects.get(window=life.window)
        seen["digest"] = draw.results_digest
        seen["offers"] = Appointment.objects.filter(entry__window=life.window).count()
        raise RuntimeError("worker died")

    monkeypatch.setattr("lottery.services_run.mark_window_drawn", crash)
    with pytest.raises(RuntimeError):
        life.draw()
    monkeypatch.undo()
    _assert_nothing_drawn(life)

    assert life.draw() == "drawn"

    assert seen["offers"] == 8
    assert Draw.objects.get(window=life.window).results_digest == seen["digest"]
    assert Appointment.objects.filter(entry__window=life.window).count() == 8


def test_outcome_writes_failing_in_their_thread_fail_the_draw_and_leave_nothing(
    timeline, monkeypatch
):
    """On PostgreSQL the entries' UPDATE and the appointments' INSERT run in a thread while the
    checks run: an error there must reach the draw, which then rolls everything back."""
    life = timeline()
    life.close_and_freeze()
    life.reveal_operator()
    real_apply = services_run._Outcomes.apply

    def apply_then_fail(self, cursor):
        real_apply(self, cursor)  # ranks, statuses and appointments are written, then:
        raise RuntimeError("connection lost")

    monkeypatch.setattr(services_run._Outcomes, "apply", apply_then_fail)
    with pytest.raises(RuntimeError, match="connection lost"):
        life.draw()
    monkeypatch.undo()

    _assert_nothing_drawn(life)
    assert life.draw() == "drawn"
    assert Appointment.objects.filter(entry__window=life.window).count() == 8


def test_run_draw_before_reveal_deadline_is_refused(timeline):
    from django.utils import timezone

    life = timeline(
        closes_at=timezone.now() - timedelta(hours=1),
        reveal_deadline=timezone.now() + timedelta(hours=1),
    )
    life.close_and_freeze()

    with pytest.raises(Conflict) as refused:
        life.draw()

    assert refused.value.code == "draw_not_due"
    assert Draw.objects.get(window=life.window).state == DrawState.FROZEN


def test_reveal_after_the_deadline_is_absent(timeline):
    life = timeline()
    party = DrawParty.objects.get(draw__window=life.window)
    secret = OperatorSecret.objects.get(party=party).secret
    life.close_and_freeze()

    with (
        clock.at(life.window.reveal_deadline + timedelta(seconds=1)),
        pytest.raises(Conflict) as late,
    ):
        services_reveal.reveal_secret(
            window_id=life.window_id, party_id=party.party_id, secret=secret
        )
    life.draw()

    assert late.value.code == "reveal_late"
    draw = Draw.objects.get(window=life.window)
    assert counted_secrets(draw) == {party.party_id: b""}
    assert AuditEvent.objects.filter(action="draw.reveal_refused").count() == 1
    assert_replays(kit.kit_files(draw, unpublished=True))


def test_reveal_with_a_wrong_secret_is_refused(timeline):
    life = timeline()
    life.close_and_freeze()

    with clock.at(life.window.freeze_at + timedelta(minutes=5)), pytest.raises(Conflict) as wrong:
        services_reveal.reveal_secret(window_id=life.window_id, party_id="ISERE", secret="ab" * 32)

    assert wrong.value.code == "reveal_mismatch"
    assert DrawParty.objects.get(draw__window=life.window).revealed_at is None


def test_reveal_before_the_freeze_is_refused(timeline):
    life = timeline()
    party = DrawParty.objects.get(draw__window=life.window)

    with pytest.raises(Conflict) as early:
        services_reveal.reveal_secret(
            window_id=life.window_id,
            party_id=party.party_id,
            secret=OperatorSecret.objects.get(party=party).secret,
        )

    assert early.value.code == "reveal_not_open"


def test_auditor_party_commits_before_close_and_counts_when_revealed(timeline, auditor):
    life = timeline()
    secret = bytes(range(32))
    commitment = crypto.commitment(life.window.code, "CIMADE", secret).hex()
    services.register_party(
        window_id=life.window_id, party_id="cimade", commitment=commitment, actor=auditor
    )
    life.close_and_freeze()
    life.reveal_operator()
    with clock.at(life.window.freeze_at + timedelta(minutes=3)):
        services_reveal.reveal_secret(
            window_id=life.window_id, party_id="CIMADE", secret=secret.hex(), actor=auditor
        )

    life.draw()

    draw = Draw.objects.get(window=life.window)
    assert counted_secrets(draw)["CIMADE"] == secret
    assert_replays(kit.kit_files(draw, unpublished=True))


def test_register_party_after_close_is_refused(timeline, auditor):
    life = timeline()
    life.close_and_freeze()

    with pytest.raises(Conflict):
        services.register_party(
            window_id=life.window_id, party_id="LATE", commitment="00" * 32, actor=auditor
        )


def test_register_party_by_an_agent_is_forbidden(timeline, agent):
    life = timeline()

    with pytest.raises(DomainError) as refused:
        services.register_party(
            window_id=life.window_id, party_id="X", commitment="00" * 32, actor=agent
        )

    assert refused.value.code == "forbidden"


def test_failed_checks_hold_publication_until_review(timeline, supervisor, monkeypatch):
    life = timeline()
    monkeypatch.setattr(
        "lottery.services_run.run_checks",
        lambda rows, positions: {"passed": False, "spearman": {}, "groups": []},
    )
    life.close_and_freeze()
    life.reveal_operator()

    assert life.draw() == "held"
    assert services.publish_draw(window_id=life.window_id) is False
    services.review_draw(
        window_id=life.window_id,
        actor=supervisor,
        approve=True,
        note="Checked the registration log: no anomaly.",
    )

    assert services.publish_draw(window_id=life.window_id) is True
    assert AuditEvent.objects.filter(action="draw.reviewed", actor=supervisor).count() == 1
