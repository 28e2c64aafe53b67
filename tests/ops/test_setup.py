"""The first supervisor of a new installation, created from the command line."""

import io

import pytest
from django.core.management import CommandError, call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent, Role, User

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple 2026"


def _create(monkeypatch, password: str, username: str = "jeanne.martin") -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    out = io.StringIO()
    call_command(
        "create_supervisor", prefecture="ISERE", prefecture_name="Préfecture de l'Isère",
        username=username, stdout=out,
    )  # fmt: skip
    return out.getvalue()


def test_create_supervisor_makes_a_supervisor_with_a_confirmed_totp_device(monkeypatch):
    output = _create(monkeypatch, PASSWORD)

    user = User.objects.get(username="jeanne.martin")
    device = TOTPDevice.objects.get(user=user)
    assert (user.role, user.prefecture.code, user.is_staff) == (Role.SUPERVISOR, "ISERE", True)
    assert user.check_password(PASSWORD) and device.confirmed
    assert device.config_url in output
    created = AuditEvent.objects.filter(action="staff.created")
    assert list(created.values_list("actor_label", flat=True)) == ["command_create_supervisor"]


def test_create_supervisor_refuses_a_weak_password_and_a_taken_username(monkeypatch):
    _create(monkeypatch, PASSWORD)

    with pytest.raises(CommandError, match="12"):  # the minimum length, in French
        _create(monkeypatch, "short", username="other.one")
    with pytest.raises(CommandError, match="taken"):
        _create(monkeypatch, PASSWORD)

    assert list(User.objects.values_list("username", flat=True)) == ["jeanne.martin"]
