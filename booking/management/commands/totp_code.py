"""Print the current TOTP code of a demo staff user (development convenience: DEBUG only)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Print the current TOTP code of a user's device (refused unless DEBUG)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        if not settings.DEBUG:
            raise CommandError("totp_code is a development helper; it runs only with DEBUG=1.")
        device = TOTPDevice.objects.filter(user__username=username).first()
        if device is None:
            raise CommandError(f"No TOTP device for {username!r}.")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{totp.token():0{device.digits}d}")
