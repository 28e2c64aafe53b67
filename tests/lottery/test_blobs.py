"""The draw's files go in and out of the database byte for byte, and draws load without them."""

import pytest

from lottery import blobs, kit, services
from lottery.models import Draw, DrawState

pytestmark = pytest.mark.django_db

ALL_BYTES = bytes(range(256)) * 3 + b"\x00\\x00'\"\n"


def test_files_round_trip_byte_for_byte(timeline):
    life = timeline(entries=5, slots=2)
    draw = Draw.objects.get(window=life.window)

    blobs.write(draw, entries_csv=ALL_BYTES, slots_csv=b"", results_csv=None)

    assert blobs.read(draw, "entries_csv", "slots_csv", "results_csv") == (ALL_BYTES, b"", None)
    # The ORM reads the same bytes (a deferred field loads on first access).
    assert bytes(Draw.objects.get(pk=draw.pk).entries_csv) == ALL_BYTES


def test_draws_load_without_their_files(timeline):
    life = timeline(entries=5, slots=2)
    life.close_and_freeze()

    draw = Draw.objects.select_related("window").get(window=life.window)

    assert draw.get_deferred_fields() >= set(blobs.BLOB_FIELDS)
    assert blobs.read(draw, "entries_csv")[0].startswith(b"entry_id,")


def test_unknown_field_or_vanished_row_is_an_error(timeline):
    draw = Draw.objects.get(window=timeline(entries=2, slots=1).window)

    with pytest.raises(ValueError):
        blobs.read(draw, "seed")
    with pytest.raises(ValueError):
        blobs.write(draw)
    ghost = Draw(pk=draw.pk + 1000)
    with pytest.raises(Draw.DoesNotExist):
        blobs.read(ghost, "entries_csv")
    with pytest.raises(Draw.DoesNotExist):
        blobs.write(ghost, entries_csv=b"x")


def test_file_names_match_the_files_at_every_stage(timeline):
    life = timeline(entries=12, slots=4)

    def check(**kwargs):
        draw = Draw.objects.get(window=life.window)
        assert kit.kit_file_names(draw, **kwargs) == sorted(kit.kit_files(draw, **kwargs))
        return kit.kit_file_names(draw, **kwargs)

    assert check() == ["announcement.json"]
    life.close_and_freeze()
    assert "entries.csv" in check() and "results.csv" not in check()
    life.reveal_operator()
    life.draw()
    assert "results.csv" not in check()
    assert "results.csv" in check(unpublished=True)
    services.publish_draw(window_id=life.window_id)
    assert Draw.objects.get(window=life.window).state == DrawState.PUBLISHED
    assert "results.csv" in check()
