import getpass
import io
import sys

import segno
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import audit
from ops.setup import create_supervisor


class Command(BaseCommand):
    help = (
        "Create a supervisor (password + TOTP) for a prefecture, creating the prefecture if "
        "new, and print the TOTP otpauth URI and its QR code once. The password is asked "
        "twice on a terminal, or read as one line from standard input."
    )

    def add_arguments(self, parser):
        parser.add_argument("--prefecture", required=True, help="code, e.g. ISERE")
        parser.add_argument("--prefecture-name", default="", help="e.g. Préfecture de l'Isère")
        parser.add_argument("--username", required=True)

    @audit.acted_by("command_create_supervisor")
    def handle(self, *args, **options):
        password = self._password()
        try:
            device = create_supervisor(
                prefecture_code=options["prefecture"],
                prefecture_name=options["prefecture_name"] or options["prefecture"],
                username=options["username"],
                password=password,
            )
        except (ValueError, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        self.stdout.write(f"Supervisor {options['username']} created. Scan this in an app:")
        self.stdout.write(device.config_url)
        qr_code = io.StringIO()
        segno.make(device.config_url).terminal(out=qr_code, compact=True)
        self.stdout.write(qr_code.getvalue(), ending="")

    def _password(self) -> str:
        if not sys.stdin.isatty():
            return sys.stdin.readline().rstrip("\n")
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != first:
            raise CommandError("The two passwords differ.")
        return first
