"""Open data: the draws and their figures as JSON, and the Atom feed of publications and
re-offers. Nothing in them identifies a person (entries appear by their random entry_id only)."""

import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from booking.models import Appointment
from lottery import services_offers
from lottery.models import Draw

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def reoffered(timeline):
    """A published draw one of whose slots was declined and offered to the next entry."""
    life = timeline(entries=10, slots=3)
    life.run_all()
    first = Appointment.objects.filter(entry__window=life.window).order_by("entry__rank")[0]
    life.reoffer = services_offers.decline_offer(appointment_id=first.pk)
    return life


def test_draw_list_json_gives_each_draws_figures_without_login(anonymous, reoffered):
    data = anonymous.get(reverse("api-draw-list")).json()

    draw = Draw.objects.get(window=reoffered.window)
    assert (data["count"], data["page"], data["pages"]) == (1, 1, 1)
    item = data["draws"][0]
    assert {k: item[k] for k in ("code", "state", "entries", "slots", "given")} == {
        "code": reoffered.window.code,
        "state": "published",
        "entries": 10,
        "slots": 3,
        "given": 3,
    }
    assert item["entries_by_tier"] == {"1": 10}
    assert item["results_digest"] == draw.results_digest
    assert item["page"] == "http://testserver" + reverse("draw-detail", args=[item["code"]])


def test_draw_list_json_filters_like_the_page_and_refuses_a_bad_year(
    anonymous, reoffered, other_prefecture
):
    year = reoffered.window.closes_at.year

    mine = anonymous.get(reverse("api-draw-list"), {"prefecture": "ISERE", "year": year})
    other = anonymous.get(reverse("api-draw-list"), {"prefecture": other_prefecture.code})
    bad = anonymous.get(reverse("api-draw-list"), {"year": "soon"})

    assert [d["code"] for d in mine.json()["draws"]] == [reoffered.window.code]
    assert other.json()["draws"] == []
    assert (bad.status_code, list(bad.json()["fields"])) == (400, ["year"])


def test_draw_record_json_adds_the_summary_figures(anonymous, reoffered):
    data = anonymous.get(reverse("api-draw", args=[reoffered.window.code])).json()

    figures = data["figures"]
    assert figures["reoffers"] == 1
    assert figures["entries"] == 10
    assert figures["four_eyes"]["urgency"] == {"requested": 0, "approved": 0, "refused": 0}
    assert figures["duplicate_reviews"]["raised"] == 0
    assert sum(group["entries"] for group in figures["groups"]) == 10


def test_open_data_holds_nothing_that_identifies_a_person(anonymous, reoffered):
    bodies = [
        anonymous.get(reverse("api-draw-list")).content.decode(),
        anonymous.get(reverse("api-draw", args=[reoffered.window.code])).content.decode(),
        anonymous.get(reverse("draw-feed")).content.decode(),
    ]

    for entry in reoffered.entries:
        for body in bodies:
            assert entry.person.family_name not in body
            assert entry.person.identifier not in body
    assert all("Canary" not in body for body in bodies)


def test_feed_announces_the_publication_and_each_reoffer(anonymous, reoffered):
    response = anonymous.get(reverse("draw-feed"), headers={"accept-language": "en"})

    feed = ET.fromstring(response.content)  # noqa: S314 (our own feed, in a test)
    entries = feed.findall(f"{ATOM}entry")
    ids = [entry.find(f"{ATOM}id").text for entry in entries]
    code = reoffered.window.code
    slot = reoffered.reoffer.slot.code
    assert response["Content-Type"].startswith("application/atom+xml")
    assert ids == [f"urn:fairslot:draw:{code}:event:2", f"urn:fairslot:draw:{code}:published"]
    assert entries[0].find(f"{ATOM}title").text.startswith(f"Slot {slot} offered again")
    assert reoffered.reoffer.entry.entry_id in entries[0].find(f"{ATOM}summary").text
    link = entries[1].find(f"{ATOM}link").get("href")
    assert link == "http://testserver" + reverse("draw-detail", args=[code])


def test_draw_list_page_points_feed_readers_to_the_feed(anonymous, reoffered):
    page = anonymous.get(reverse("draw-list")).content.decode()

    assert (
        f'<link rel="alternate" type="application/atom+xml" href="{reverse("draw-feed")}"' in page
    )
