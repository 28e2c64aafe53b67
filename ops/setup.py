"""The first start of an installation: its prefecture and first supervisor (docs/deploy.md)."""

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import audit
from accounts.models import Role, User
from booking.models import Prefecture


def create_supervisor(
    *, prefecture_code: str, prefecture_name: str, username: str, password: str
) -> TOTPDevice:
    """Create a supervisor of the prefecture (created too if new) with a password and a TOTP
    device, and return the device: its otpauth URI is shown once, to be scanned. Refuses a
    username already taken (ValueError) and a weak password (ValidationError)."""
    with transaction.atomic(durable=True):
        if User.objects.filter(username=username).exists():
            raise ValueError(f"the username {username!r} is taken")
        prefecture, _created = Prefecture.objects.get_or_create(
            code=prefecture_code, defaults={"name": prefecture_name}
        )
        user = User(username=username, role=Role.SUPERVISOR, prefecture=prefecture, is_staff=True)
        validate_password(password, user)
        user.set_password(password)
        user.save()
        device = TOTPDevice.objects.create(user=user, name="first login", confirmed=True)
        audit.record("staff.created", target=user, prefecture_id=prefecture.pk, role=user.role)
    return device
