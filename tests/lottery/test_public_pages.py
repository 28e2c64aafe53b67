"""The auditor's path on the public pages: the menu, the list of draws with its filter and pages,
the plain-words summary at the top of a draw's page, and the page on how to check a draw."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import resolve, reverse
from django.utils import timezone

from booking.models import Appointment
from lottery import services, services_offers
from lottery.models import Draw
from lottery.views import DRAWS_PER_PAGE
from tests.factories import WindowFactory

pytestmark = pytest.mark.django_db

EN = {"accept-language": "en"}


def _announced(prefecture, *, closes_at=None, code=None):
    """A window with its draw announced (no files yet): the cheapest draw the list can show."""
    closes_at = closes_at or timezone.now() + timedelta(days=5)
    window = WindowFactory(
        prefecture=prefecture,
        opens_at=closes_at - timedelta(days=5),
        closes_at=closes_at,
        **({"code": code} if code else {}),
    )
    services.announce_draw(window_id=window.pk)
    return window


def test_main_menu_leads_to_the_draws_on_every_page(anonymous):
    page = anonymous.get(reverse("home"), headers=EN).content.decode()

    menu = page.split('id="navigation"')[1].split("</nav>")[0]
    assert f'href="{reverse("draw-list")}"' in menu
    assert ">Draws</a>" in menu


def test_home_page_links_each_recent_draw_to_its_page(anonymous, timeline):
    life = timeline(entries=4, slots=2)
    life.run_all()

    page = anonymous.get(reverse("home"), headers=EN).content.decode()

    recent = page.split("Recent draws")[1]
    assert f'<a href="{reverse("draw-detail", args=[life.window.code])}">' in recent
    assert f'href="{reverse("draw-list")}"' in page


def test_how_to_check_is_its_own_page_not_a_draw_code(anonymous):
    response = anonymous.get("/draws/how-to-check/", headers=EN)

    assert resolve("/draws/how-to-check/").url_name == "draw-how-to-check"
    assert response.status_code == 200
    page = response.content.decode()
    assert "python3 replay.py" in page
    assert "identical" in page
    assert "/public/ROUND" in page  # the beacon round, fetched from drand itself


def test_draw_list_shows_state_date_and_counts_with_links(anonymous, timeline):
    life = timeline(entries=12, slots=5)
    life.run_all()

    response = anonymous.get(reverse("draw-list"), headers=EN)

    row = response.content.decode().split(f"<code>{life.window.code}</code>")[1].split("</tr>")[0]
    assert f'href="{reverse("draw-detail", args=[life.window.code])}"' in response.content.decode()
    assert "<td>Published</td>" in row
    assert "<td>12</td><td>5</td>" in row
    assert life.window.closes_at.astimezone(timezone.get_default_timezone()).strftime("%Y") in row


def test_draw_list_filters_by_prefecture_and_year(anonymous, prefecture, other_prefecture):
    year = timezone.now().year + 1
    kept = _announced(prefecture, closes_at=datetime(year, 6, 1, 12, tzinfo=UTC))
    other_year = _announced(prefecture, closes_at=datetime(year + 1, 6, 1, 12, tzinfo=UTC))
    other_place = _announced(other_prefecture, closes_at=datetime(year, 6, 1, 12, tzinfo=UTC))

    response = anonymous.get(reverse("draw-list"), {"prefecture": prefecture.code, "year": year})

    codes = [draw.window.code for draw in response.context["page"].object_list]
    assert codes == [kept.code]
    assert other_year.code not in codes and other_place.code not in codes


def test_draw_list_ignores_a_filter_typed_wrong_and_says_so(anonymous, prefecture):
    window = _announced(prefecture)

    response = anonymous.get(reverse("draw-list"), {"year": "abc"}, headers=EN)

    assert [d.window.code for d in response.context["page"].object_list] == [window.code]
    assert list(response.context["form"].errors) == ["year"]


def test_draw_list_is_paginated_and_pages_keep_the_filter(anonymous, prefecture):
    for _ in range(DRAWS_PER_PAGE + 1):
        _announced(prefecture)

    first = anonymous.get(reverse("draw-list"), {"prefecture": prefecture.code})
    second = anonymous.get(reverse("draw-list"), {"prefecture": prefecture.code, "page": 2})

    assert len(first.context["page"].object_list) == DRAWS_PER_PAGE
    assert f"?prefecture={prefecture.code}&amp;page=2" in first.content.decode()
    assert len(second.context["page"].object_list) == 1


@pytest.mark.parametrize("draws", [1, 3])
def test_draw_list_query_count_does_not_grow_with_draws(
    anonymous, prefecture, draws, django_assert_num_queries
):
    for _ in range(draws):
        _announced(prefecture)

    # filter choices (2), count and page of draws (2), audit heads (1), DSFR's site settings (2)
    with django_assert_num_queries(7):
        response = anonymous.get(reverse("draw-list"))

    assert len(response.context["page"].object_list) == draws


def test_draw_page_opens_with_a_summary_in_plain_words(anonymous, timeline):
    life = timeline(entries=20, slots=6)
    life.run_all()
    draw = Draw.objects.get(window=life.window)

    page = anonymous.get(reverse("draw-detail", args=[life.window.code]), headers=EN)

    summary = page.content.decode().split('id="summary"')[1].split("</section>")[0]
    for words in (
        "20 entries took part in the draw.",
        "Urgent tier, served first: 0. Normal tier: 20.",
        "There were 6 appointment slots to give.",
        f"{life.procedure.name}.",
        "The result comes from the secret of 1 party.",
        "This draw uses no public beacon",
        "6 slots were given.",
        draw.results_digest,
        "All checks passed.",
        "No staff action needed a second supervisor.",
        "No registration looked like another person",
        "No slot has been offered again since publication.",
        reverse("draw-how-to-check"),
    ):
        assert words in summary, words
    assert page.content.decode().index('id="summary"') < page.content.decode().index('id="details"')


def test_draw_page_summary_counts_the_reoffers_since_publication(anonymous, timeline):
    life = timeline(entries=10, slots=3)
    life.run_all()
    first = Appointment.objects.filter(entry__window=life.window).order_by("entry__rank")[0]
    services_offers.decline_offer(appointment_id=first.pk)

    page = anonymous.get(reverse("draw-detail", args=[life.window.code]), headers=EN)

    assert page.context["reoffers"] == 1
    assert "1 slot was offered again after a refusal" in page.content.decode()


def test_announced_draw_summary_says_the_lists_are_not_frozen_yet(anonymous, prefecture):
    window = _announced(prefecture)

    page = anonymous.get(reverse("draw-detail", args=[window.code]), headers=EN)

    assert "The lists of entries and slots are not frozen yet." in page.content.decode()
    assert page.context["reoffers"] == 0


def test_draw_pages_are_in_french_by_default(anonymous, timeline):
    life = timeline(entries=4, slots=2)
    life.run_all()

    listing = anonymous.get(reverse("draw-list")).content.decode()
    page = anonymous.get(reverse("draw-detail", args=[life.window.code])).content.decode()
    guide = anonymous.get(reverse("draw-how-to-check")).content.decode()

    assert "Comment vérifier un tirage" in listing
    assert "Ce tirage en bref" in page
    assert "4 inscriptions ont participé au tirage." in page
    assert "Lancer la vérification" in guide


def test_every_draw_page_loads_the_phone_and_print_stylesheet(anonymous, prefecture):
    window = _announced(prefecture)

    pages = [
        anonymous.get(reverse("draw-list")),
        anonymous.get(reverse("draw-detail", args=[window.code])),
        anonymous.get(reverse("draw-how-to-check")),
    ]

    assert all("/static/lottery/draws.css" in p.content.decode() for p in pages)
    assert all(p.status_code == 200 for p in pages)
