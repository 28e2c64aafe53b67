"""accounts.access.staff_object_or_404: a staff object is found only for a verified user with
the right role in the object's prefecture; superusers get no more on /staff/ (the admin is
theirs). The whole route × persona matrix is tests/test_personas.py."""

import pytest
from django.http import Http404
from django.urls import reverse

from accounts.access import staff_object_or_404
from accounts.models import Role
from booking.models import Window
from lottery import services
from lottery.models import BeaconMode, DrawParty
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def _find(user, window, **kwargs):
    return staff_object_or_404(
        user, Window.objects.all(), prefecture_path="prefecture", pk=window.pk, **kwargs
    )


def _outcome(find) -> str:
    try:
        return find().code
    except Http404:
        return "404"


def _verified(user, verified=True):
    # What django-otp's middleware gives request.user.
    user.is_verified = lambda: verified
    return user


def test_object_is_found_only_by_verified_staff_of_its_prefecture_in_the_roles(
    window, agent, other_agent, auditor
):
    outcomes = [
        _outcome(lambda: _find(_verified(agent), window)),
        _outcome(lambda: _find(_verified(agent, verified=False), window)),
        _outcome(lambda: _find(_verified(other_agent), window)),
        _outcome(lambda: _find(_verified(auditor), window, roles={Role.SUPERVISOR})),
    ]

    assert outcomes == [window.code, "404", "404", "404"]


def test_superuser_without_a_prefecture_gets_404_on_staff_pages_but_edits_in_the_admin(
    window, login_otp
):
    services.announce_draw(window_id=window.pk, beacon_mode=BeaconMode.NONE)
    root = StaffFactory(username="root", role=Role.NONE, prefecture=None, is_superuser=True)
    client = login_otp(root)

    page = client.get(reverse("staff-draw", args=[window.code]))
    api = client.post(
        reverse("api-draw-parties", args=[window.code]),
        {"party_id": "ROOT", "commitment": "00" * 32},
        content_type="application/json",
    )
    admin = client.get(reverse("admin:booking_window_change", args=[window.pk]))

    assert (page.status_code, api.status_code, admin.status_code) == (404, 404, 200)
    assert list(DrawParty.objects.values_list("party_id", flat=True)) == [window.prefecture.code]
