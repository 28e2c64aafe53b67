"""The supervisor's partner-key page: each persona sees what its role allows, in its own
prefecture only; another prefecture's key is a 404."""

import pytest

from accounts import contacts
from accounts.models import AuditEvent, Role
from booking import partners
from booking.models import PartnerKey
from tests.factories import StaffFactory

URL = "/staff/partner-keys/"


@pytest.fixture
def other_supervisor(other_prefecture):
    return StaffFactory(
        username="olga.supervisor", role=Role.SUPERVISOR, prefecture=other_prefecture
    )


def test_anonymous_is_sent_to_the_staff_login(anonymous, db):
    response = anonymous.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("persona", ["agent", "auditor", "other_agent"])
def test_staff_other_than_supervisors_get_404(request, login_otp, persona):
    client = login_otp(request.getfixturevalue(persona))

    assert client.get(URL).status_code == 404


def test_applicant_session_gets_the_staff_login(client, db):
    contact = contacts.get_or_create_contact(kind="phone", value="+33612345678")
    session = client.session
    session["applicant_contact"] = contact.pk
    session.save()

    assert client.get(URL).status_code == 302


def test_supervisor_creates_a_key_shown_once_and_stored_hashed(login_otp, supervisor):
    client = login_otp(supervisor)

    created = client.post(URL, {"name": "Cimade Grenoble"})
    listed = client.get(URL)

    key = created.context["new_key"]
    partner = PartnerKey.objects.get()
    assert key.startswith("fsk_") and key in created.content.decode()
    assert key not in listed.content.decode() and "Cimade Grenoble" in listed.content.decode()
    assert (partner.prefecture_id, partner.created_by_id) == (
        supervisor.prefecture_id,
        supervisor.pk,
    )
    assert AuditEvent.objects.filter(action="partner_key.created").count() == 1


def test_supervisor_sees_and_revokes_only_keys_of_their_prefecture(
    login_otp, supervisor, other_supervisor
):
    foreign, _key = partners.create_partner_key(
        prefecture=other_supervisor.prefecture, name="Elsewhere", actor=other_supervisor
    )
    client = login_otp(supervisor)

    page = client.get(URL).content.decode()
    revoke = client.post(f"{URL}{foreign.pk}/revoke/")
    foreign.refresh_from_db()

    assert "Elsewhere" not in page
    assert revoke.status_code == 404
    assert foreign.revoked_at is None


def test_supervisor_revokes_a_key(login_otp, supervisor):
    partner, _key = partners.create_partner_key(
        prefecture=supervisor.prefecture, name="Old", actor=supervisor
    )
    client = login_otp(supervisor)

    response = client.post(f"{URL}{partner.pk}/revoke/")
    partner.refresh_from_db()

    assert response.status_code == 302
    assert partner.revoked_at is not None
    assert AuditEvent.objects.filter(action="partner_key.revoked").count() == 1
