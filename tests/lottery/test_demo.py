import pytest
from django.core.management import call_command

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
