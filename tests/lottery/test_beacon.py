"""The beacon: round R from the deadline, verified values only (FAIRDRAW-1 section 5)."""

from datetime import UTC, datetime, timedelta

import pytest

from config.errors import DomainError
from lottery import beacon, clock, kit, services_reveal
from lottery.models import BeaconMode, BeaconSource, Draw
from tests.lottery.conftest import assert_replays

VECTOR_ROUND = 657413
VECTOR_SIGNATURE = (
    "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be"
    "41076862b98fad56e91a6b85b89cd97b"
)
VECTOR_RANDOMNESS = "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587"


def test_round_for_the_specification_example():
    assert beacon.round_for(datetime(2025, 6, 11, 12, tzinfo=UTC)) == 18947812


def test_verify_returns_the_test_vector_randomness():
    assert beacon.verify(VECTOR_ROUND, VECTOR_SIGNATURE) == VECTOR_RANDOMNESS


@pytest.fixture
def vector_life(timeline):
    deadline = beacon.round_time(VECTOR_ROUND) - timedelta(hours=1)
    life = timeline(
        beacon_mode=BeaconMode.QUICKNET,
        closes_at=deadline - timedelta(days=1),
        reveal_deadline=deadline,
    )
    life.close_and_freeze()
    life.reveal_operator()
    return life


@pytest.mark.django_db
def test_announced_round_is_the_first_an_hour_after_the_deadline(vector_life):
    assert Draw.objects.get(window=vector_life.window).beacon_round == VECTOR_ROUND


@pytest.mark.django_db
def test_forged_beacon_is_refused(vector_life, supervisor):
    forged = VECTOR_SIGNATURE[:-2] + ("00" if VECTOR_SIGNATURE[-2:] != "00" else "01")

    with pytest.raises(DomainError) as refused:
        services_reveal.record_beacon(
            window_id=vector_life.window_id, signature=forged, actor=supervisor
        )

    assert refused.value.code == "beacon_invalid"
    assert Draw.objects.get(window=vector_life.window).beacon_source == ""


@pytest.mark.django_db
def test_pasted_beacon_with_a_wrong_randomness_is_refused(vector_life, supervisor):
    with pytest.raises(DomainError):
        services_reveal.record_beacon(
            window_id=vector_life.window_id,
            signature=VECTOR_SIGNATURE,
            randomness="00" * 32,
            actor=supervisor,
        )


@pytest.mark.django_db
def test_beacon_paste_needs_a_supervisor(vector_life, agent):
    with pytest.raises(DomainError) as refused:
        services_reveal.record_beacon(
            window_id=vector_life.window_id, signature=VECTOR_SIGNATURE, actor=agent
        )

    assert refused.value.code == "forbidden"


@pytest.mark.django_db
def test_pasted_real_round_is_used_in_the_seed_and_the_kit_replays(vector_life, supervisor):
    services_reveal.record_beacon(
        window_id=vector_life.window_id,
        signature=VECTOR_SIGNATURE,
        randomness=VECTOR_RANDOMNESS,
        actor=supervisor,
    )

    assert vector_life.draw() == "drawn"

    draw = Draw.objects.get(window=vector_life.window)
    files = kit.kit_files(draw, unpublished=True)
    assert draw.beacon_randomness == VECTOR_RANDOMNESS
    assert b'"randomness": "' + VECTOR_RANDOMNESS.encode() in files["beacon.json"]
    assert_replays(files)


@pytest.mark.django_db
def test_fetched_forged_round_is_not_stored(vector_life, monkeypatch):
    forged = {"round": VECTOR_ROUND, "signature": "aa" * 48, "randomness": "00" * 32}

    class Response:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, size):
            import json

            return json.dumps(forged).encode()

    monkeypatch.setattr("lottery.beacon.urllib.request.urlopen", Response)

    with clock.at(beacon.round_time(VECTOR_ROUND) + timedelta(minutes=1)):
        assert services_reveal.fetch_beacon(window_id=vector_life.window_id) is False

    assert Draw.objects.get(window=vector_life.window).beacon_source == ""


@pytest.mark.django_db
def test_unreachable_beacon_falls_back_after_seven_days(vector_life, monkeypatch):
    def offline(round_number, **kwargs):
        raise beacon.BeaconError("offline")

    monkeypatch.setattr("lottery.beacon.fetch", offline)
    due = beacon.round_time(VECTOR_ROUND)

    with clock.at(due + timedelta(days=6)):
        assert services_reveal.fetch_beacon(window_id=vector_life.window_id) is False
    with clock.at(due + timedelta(days=7)):
        assert services_reveal.fetch_beacon(window_id=vector_life.window_id) is True

    draw = Draw.objects.get(window=vector_life.window)
    assert draw.beacon_source == BeaconSource.FALLBACK
    assert vector_life.draw() == "drawn"


@pytest.mark.django_db
def test_kit_of_a_fallback_draw_claims_the_fallback_and_replays(vector_life, monkeypatch):
    def offline(round_number, **kwargs):
        raise beacon.BeaconError("offline")

    monkeypatch.setattr("lottery.beacon.fetch", offline)
    with clock.at(beacon.round_time(VECTOR_ROUND) + timedelta(days=7)):
        services_reveal.fetch_beacon(window_id=vector_life.window_id)
    vector_life.draw()

    files = kit.kit_files(Draw.objects.get(window=vector_life.window), unpublished=True)

    assert files["beacon.json"] == (
        b'{\n  "randomness": null,\n  "round": 657413,\n  "signature": null\n}\n'
    )
    assert_replays(files)
