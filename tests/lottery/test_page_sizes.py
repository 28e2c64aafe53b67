"""Page sizes are capped (issue 20): no list endpoint or paginated page lets a client choose
its page size, and a junk, negative, zero or huge page number is clamped to a real page (HTML)
or refused with 400 (API), never a 500."""

import pytest
from django.urls import reverse

from accounts.models import Role
from lottery.api import DrawList
from tests.factories import StaffFactory

JUNK_PAGES = ["0", "-1", str(10**30), "9" * 5000, "abc", "1.5", ""]
# Names a client might try for the page size; none is read.
HUGE_SIZES = {"per_page": 10**9, "page_size": 10**9, "limit": 10**9, "size": 10**9}


@pytest.fixture
def published(timeline):
    life = timeline(entries=30, slots=10)
    life.run_all()
    return life


def test_html_pages_clamp_any_page_number_to_an_existing_page(anonymous, published):
    # Arrange
    urls = [reverse("draw-list"), reverse("draw-detail", args=[published.window.code])]

    # Act
    responses = {
        (url, page): anonymous.get(url, {"page": page, **HUGE_SIZES})
        for url in urls
        for page in JUNK_PAGES
    }

    # Assert
    for key, response in responses.items():
        assert response.status_code == 200, key
        page = response.context["page"]
        assert 1 <= page.number <= page.paginator.num_pages, key
        assert len(page.object_list) <= page.paginator.per_page, key


def test_api_draw_list_refuses_a_junk_page_and_clamps_a_huge_one(anonymous, published):
    # Arrange
    url = reverse("api-draw-list")

    # Act
    statuses = {page: anonymous.get(url, {"page": page, **HUGE_SIZES}) for page in JUNK_PAGES}

    # Assert: below 1 or not a number is a 400 in the API's envelope; too far is the last page
    assert {page: r.status_code for page, r in statuses.items()} == {
        "0": 400,
        "-1": 400,
        str(10**30): 200,
        "9" * 5000: 400,
        "abc": 400,
        "1.5": 400,
        "": 200,
    }
    last = statuses[str(10**30)].json()
    assert last["page"] == last["pages"] == 1
    assert 1 <= len(last["draws"]) <= DrawList.per_page


def test_staff_duplicate_queue_clamps_any_page_number(login_otp, published):
    # Arrange
    client = login_otp(StaffFactory(prefecture=published.window.prefecture, role=Role.SUPERVISOR))
    url = reverse("staff-duplicates", args=[published.window.code])

    # Act
    responses = {page: client.get(url, {"page": page, **HUGE_SIZES}) for page in JUNK_PAGES}

    # Assert
    for page, response in responses.items():
        assert response.status_code == 200, page
        assert response.context["page"].number == 1, page
