"""Staff pages of a draw: commit, reveal, paste the beacon, review; who may see them."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from lottery import beacon, clock, services
from lottery.fairdraw import crypto
from lottery.models import BeaconMode, BeaconSource, Draw, DrawParty, DrawState
from tests.lottery.test_beacon import VECTOR_RANDOMNESS, VECTOR_ROUND, VECTOR_SIGNATURE

pytestmark = pytest.mark.django_db

EN = {"accept-language": "en"}
SECRET = b"\x07" * 32


def _url(name, life):
    return reverse(name, args=[life.window.code])


def _commit(life, auditor, party_id="LIGUE"):
    commitment = crypto.commitment(life.window.code, party_id, SECRET).hex()
    services.register_party(
        window_id=life.window_id, party_id=party_id, commitment=commitment, actor=auditor
    )


def _actions(**data):
    return list(AuditEvent.objects.filter(**data).values_list("action", flat=True))


@pytest.fixture
def quicknet_life(timeline):
    """Frozen and revealed, waiting for the test vector's round to be pasted."""
    deadline = beacon.round_time(VECTOR_ROUND) - timedelta(hours=1)
    life = timeline(beacon_mode=BeaconMode.QUICKNET, closes_at=deadline - timedelta(days=1),
                    reveal_deadline=deadline)  # fmt: skip
    life.close_and_freeze()
    life.reveal_operator()
    return life


@pytest.fixture
def held_life(timeline, monkeypatch):
    monkeypatch.setattr(
        "lottery.services_run.run_checks",
        lambda rows, positions: {"passed": False, "spearman": {}, "groups": []},
    )
    life = timeline()
    life.close_and_freeze()
    life.reveal_operator()
    assert life.draw() == "held"
    return life


# --- Access ------------------------------------------------------------------------------------


def test_staff_page_shows_the_draw_state_to_an_agent_of_the_prefecture(timeline, agent, login_otp):
    life = timeline()

    response = login_otp(agent).get(_url("staff-draw", life), headers=EN)

    page = response.content.decode()
    assert response.status_code == 200
    assert life.window.code in page
    assert Draw.objects.get(window=life.window).parties.get().commitment in page
    assert "Register a party" not in page  # agents do not commit


def test_staff_page_refuses_a_password_only_session(timeline, auditor, client):
    life = timeline()
    client.force_login(auditor)
    commitment = crypto.commitment(life.window.code, "LIGUE", SECRET).hex()

    page = client.get(_url("staff-draw", life))
    post = client.post(
        _url("staff-draw-party", life), {"party_id": "LIGUE", "commitment": commitment}
    )

    assert (page.status_code, post.status_code) == (403, 403)
    assert DrawParty.objects.filter(draw__window=life.window).count() == 1


def test_staff_page_sends_an_anonymous_visitor_to_the_login(timeline, anonymous):
    life = timeline()

    response = anonymous.get(_url("staff-draw", life))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_page_of_another_prefecture_is_not_found(timeline, other_agent, login_otp):
    life = timeline()
    client = login_otp(other_agent)

    page = client.get(_url("staff-draw", life))
    post = client.post(_url("staff-draw-review", life), {"decision": "approve", "note": "x"})

    assert (page.status_code, post.status_code) == (404, 404)


def test_unknown_draw_is_not_found_for_staff(agent, login_otp):
    response = login_otp(agent).get(reverse("staff-draw", args=["NO-SUCH-DRAW"]))

    assert response.status_code == 404


def test_public_page_links_to_the_staff_page_for_staff_of_the_prefecture(
    timeline, agent, login_otp
):
    life = timeline()
    staff_url = _url("staff-draw", life)

    for_agent = login_otp(agent).get(_url("draw-detail", life)).content.decode()

    assert staff_url in for_agent


def test_public_page_has_no_staff_link_for_others(timeline, other_agent, login_otp, anonymous):
    life = timeline()
    staff_url = _url("staff-draw", life)

    for_anonymous = anonymous.get(_url("draw-detail", life)).content.decode()
    for_other = login_otp(other_agent).get(_url("draw-detail", life)).content.decode()

    assert (staff_url in for_anonymous, staff_url in for_other) == (False, False)


# --- Commit and reveal -------------------------------------------------------------------------


def test_auditor_registers_a_party_through_the_page(timeline, auditor, login_otp):
    life = timeline()
    commitment = crypto.commitment(life.window.code, "LIGUE", SECRET).hex()

    data = {"party_id": "ligue", "commitment": commitment.upper()}

    response = login_otp(auditor).post(_url("staff-draw-party", life), data)

    assert response.status_code == 302
    assert DrawParty.objects.get(party_id="LIGUE").commitment == commitment
    assert _actions(actor=auditor) == ["draw.party_registered"]


def test_party_form_shows_a_taken_party_id_beside_the_form(timeline, auditor, login_otp):
    life = timeline()
    _commit(life, auditor)

    response = login_otp(auditor).post(_url("staff-draw-party", life),
                                       {"party_id": "LIGUE", "commitment": "ab" * 32},
                                       headers=EN)  # fmt: skip

    assert response.status_code == 409
    assert "This party id is already taken in this draw." in response.content.decode()
    assert DrawParty.objects.get(party_id="LIGUE").commitment != "ab" * 32


def test_auditor_reveals_the_secret_through_the_page(timeline, auditor, login_otp):
    life = timeline()
    _commit(life, auditor)
    life.close_and_freeze()

    with clock.at(life.window.freeze_at + timedelta(hours=1)):
        response = login_otp(auditor).post(
            _url("staff-draw-reveal", life), {"party_id": "LIGUE", "secret": SECRET.hex()}
        )

    party = DrawParty.objects.get(party_id="LIGUE")
    assert response.status_code == 302
    assert (party.secret, party.revealed_at) == (
        SECRET.hex(),
        life.window.freeze_at + timedelta(hours=1),
    )
    assert _actions(actor=auditor, action="draw.revealed") == ["draw.revealed"]


def test_wrong_reveal_shows_the_error_and_changes_nothing(timeline, auditor, login_otp):
    life = timeline()
    _commit(life, auditor)
    life.close_and_freeze()

    with clock.at(life.window.freeze_at + timedelta(hours=1)):
        response = login_otp(auditor).post(_url("staff-draw-reveal", life),
                                           {"party_id": "LIGUE", "secret": "ee" * 32},
                                           headers=EN)  # fmt: skip

    party = DrawParty.objects.get(party_id="LIGUE")
    assert response.status_code == 409
    assert "This secret does not match the commitment." in response.content.decode()
    assert (party.secret, party.revealed_at) == ("", None)
    assert _actions(actor=auditor, action__startswith="draw.reveal") == ["draw.reveal_refused"]


# --- Beacon ------------------------------------------------------------------------------------


def _beacon_json(signature=VECTOR_SIGNATURE, round_number=VECTOR_ROUND):
    return json.dumps(
        {"round": round_number, "signature": signature, "randomness": VECTOR_RANDOMNESS}
    )


def test_supervisor_pastes_the_beacon_round_through_the_page(quicknet_life, supervisor, login_otp):
    response = login_otp(supervisor).post(_url("staff-draw-beacon", quicknet_life),
                                          {"beacon": _beacon_json()})  # fmt: skip

    draw = Draw.objects.get(window=quicknet_life.window)
    assert response.status_code == 302
    assert (draw.beacon_source, draw.beacon_randomness) == (BeaconSource.PASTE, VECTOR_RANDOMNESS)
    assert _actions(actor=supervisor) == ["draw.beacon"]


def test_forged_beacon_paste_is_refused(quicknet_life, supervisor, login_otp):
    forged = VECTOR_SIGNATURE[:-2] + ("00" if VECTOR_SIGNATURE[-2:] != "00" else "01")

    response = login_otp(supervisor).post(_url("staff-draw-beacon", quicknet_life),
                                          {"beacon": _beacon_json(forged)}, headers=EN)  # fmt: skip

    draw = Draw.objects.get(window=quicknet_life.window)
    assert response.status_code == 400
    assert "This beacon value does not verify" in response.content.decode()
    assert (draw.beacon_source, draw.beacon_randomness) == ("", "")
    assert _actions(actor=supervisor) == []


def test_beacon_paste_of_another_round_is_refused(quicknet_life, supervisor, login_otp):
    response = login_otp(supervisor).post(_url("staff-draw-beacon", quicknet_life),
                                          {"beacon": _beacon_json(round_number=VECTOR_ROUND + 1)},
                                          headers=EN)  # fmt: skip

    assert "This is not the announced round." in response.content.decode()
    assert Draw.objects.get(window=quicknet_life.window).beacon_source == ""


def test_beacon_paste_that_is_not_json_is_a_form_error(quicknet_life, supervisor, login_otp):
    response = login_otp(supervisor).post(_url("staff-draw-beacon", quicknet_life),
                                          {"beacon": "round 657413"}, headers=EN)  # fmt: skip

    assert response.status_code == 400
    assert "This is not valid JSON." in response.content.decode()


def test_beacon_paste_by_an_auditor_is_refused(quicknet_life, auditor, login_otp):
    response = login_otp(auditor).post(_url("staff-draw-beacon", quicknet_life),
                                       {"beacon": _beacon_json()}, headers=EN)  # fmt: skip

    assert response.status_code == 403
    assert "Only a supervisor of this prefecture can do this." in response.content.decode()
    assert Draw.objects.get(window=quicknet_life.window).beacon_source == ""


# --- Review ------------------------------------------------------------------------------------


def test_supervisor_approves_a_held_draw_through_the_page(held_life, supervisor, login_otp):
    client = login_otp(supervisor)
    assert (
        "Review the held draw"
        in client.get(_url("staff-draw", held_life), headers=EN).content.decode()
    )

    data = {"decision": "approve", "note": "Registration log checked."}

    response = client.post(_url("staff-draw-review", held_life), data)

    draw = Draw.objects.get(window=held_life.window)
    assert response.status_code == 302
    assert (draw.state, draw.review_note, draw.reviewed_by) == (
        DrawState.DRAWN,
        "Registration log checked.",
        supervisor,
    )
    assert AuditEvent.objects.get(actor=supervisor, action="draw.reviewed").data["approved"] is True


def test_supervisor_keeps_a_draw_held_through_the_page(held_life, supervisor, login_otp):
    data = {"decision": "hold", "note": "Anomaly: ask the DPO."}

    response = login_otp(supervisor).post(_url("staff-draw-review", held_life), data)

    draw = Draw.objects.get(window=held_life.window)
    assert response.status_code == 302
    assert (draw.state, draw.review_note) == (DrawState.HELD, "Anomaly: ask the DPO.")
    assert (
        AuditEvent.objects.get(actor=supervisor, action="draw.reviewed").data["approved"] is False
    )


def test_review_without_a_note_is_a_form_error(held_life, supervisor, login_otp):
    response = login_otp(supervisor).post(_url("staff-draw-review", held_life),
                                          {"decision": "approve", "note": ""})  # fmt: skip

    assert response.status_code == 400
    assert Draw.objects.get(window=held_life.window).state == DrawState.HELD
    assert _actions(actor=supervisor) == []


def test_review_by_an_agent_is_refused(held_life, agent, login_otp):
    response = login_otp(agent).post(_url("staff-draw-review", held_life),
                                     {"decision": "approve", "note": "ok"}, headers=EN)  # fmt: skip

    assert response.status_code == 403
    assert "Only a supervisor of this prefecture can do this." in response.content.decode()
    assert Draw.objects.get(window=held_life.window).state == DrawState.HELD
