"""Every change made in the Django admin writes its audit row, naming the staff member and the
fields changed, never their values."""

import pytest

from accounts.models import AuditEvent
from booking.models import Site
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


def test_an_admin_change_is_audited_with_its_fields(login_otp, prefecture, supervisor):
    site = SiteFactory(prefecture=prefecture, code="GRENOBLE", name="Grenoble")
    client = login_otp(supervisor)

    response = client.post(
        f"/admin/booking/site/{site.pk}/change/",
        {"code": "GRENOBLE", "name": "Grenoble centre", "address": "12 place de Verdun"},
    )

    assert response.status_code == 302
    assert Site.objects.get(pk=site.pk).name == "Grenoble centre"
    row = AuditEvent.objects.get(action="admin.change")
    assert (row.actor_id, row.target_type, row.target_id) == (supervisor.pk, "site", str(site.pk))
    assert row.data["model"] == "booking.Site"
    assert "name" in str(row.data["changes"]).lower()
    assert "12 place de Verdun" not in str(row.data)  # names of fields, not values


def test_an_admin_addition_is_audited(login_otp, prefecture, supervisor):
    client = login_otp(supervisor)

    client.post("/admin/booking/site/add/", {"code": "VIENNE", "name": "Vienne", "address": ""})

    site = Site.objects.get(code="VIENNE")
    row = AuditEvent.objects.get(action="admin.add")
    assert (row.actor_id, row.target_id, row.prefecture_id) == (
        supervisor.pk,
        str(site.pk),
        prefecture.pk,
    )


def test_the_admin_has_no_unaudited_bulk_delete(login_otp, supervisor):
    client = login_otp(supervisor)

    listing = client.get("/admin/booking/site/")

    assert "delete_selected" not in listing.content.decode()
