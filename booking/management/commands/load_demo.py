"""Demo data for `make run`: Isère with an open window, Rhône beside it, and staff personas.

Idempotent: running it again creates nothing new (except a fresh open window once the previous
one has closed) and prints the same logins, TOTP secrets included.
"""

from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import audit
from accounts.models import Role, User
from booking import helpers
from booking.models import HelperMembership, Prefecture, Procedure, Site, Slot, Window, WindowState

DEMO_PASSWORD = "demo-fairslot-2026"  # noqa: S105 (demo personas only, printed by make run)

# Real-looking addresses, so that the offer page and the convocation show a whole address.
PREFECTURES = {
    "ISERE": (
        "Préfecture de l'Isère",
        [
            ("GRENOBLE", "Grenoble — site Lesdiguières", "12 place de Verdun, 38000 Grenoble"),
            ("VIENNE", "Sous-préfecture de Vienne", "2 rue Laurent Florentin, 38200 Vienne"),
        ],
    ),
    "RHONE": (
        "Préfecture du Rhône",
        [("LYON", "Lyon — Part-Dieu", "106 rue Pierre Corneille, 69003 Lyon")],
    ),
}
_BRING = "Votre convocation\nVotre passeport\n3 photos d'identité récentes (moins de 6 mois)\n"
PROCEDURES = [
    (
        "RENEWAL",
        "Renouvellement de titre de séjour",
        True,
        _BRING + "Votre titre de séjour actuel\nUn justificatif de domicile de moins de 3 mois",
    ),
    (
        "FIRST",
        "Première demande de titre de séjour",
        False,
        _BRING + "Votre acte de naissance\nUn justificatif de domicile de moins de 3 mois",
    ),
    (
        "STUDENT",
        "Titre de séjour étudiant",
        False,
        _BRING + "Votre certificat d'inscription\nUn justificatif de ressources",
    ),
]
STAFF = [
    ("superviseur.isere", Role.SUPERVISOR, "ISERE"),
    ("agent.isere", Role.AGENT, "ISERE"),
    ("auditeur.isere", Role.AUDITOR, "ISERE"),
    ("agent.rhone", Role.AGENT, "RHONE"),
    # An association's helper whose request waits for the supervisor (/staff/organisations/).
    ("aide.isere", Role.HELPER, "ISERE"),
]
DEMO_ASSOCIATION = "Association d'accueil (démo)"


_MONTHS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]


def _french_month(moment) -> str:
    return f"{_MONTHS[moment.month - 1]} {moment.year}"


class Command(BaseCommand):
    help = "Load the demo prefectures, windows, slots and staff (idempotent)."

    @audit.acted_by("command_load_demo")
    def handle(self, *args, **options):
        with transaction.atomic():
            for code, (name, sites) in PREFECTURES.items():
                prefecture = self._prefecture(code, name, sites)
                self._open_window(prefecture)
            staff = [self._staff(*spec) for spec in STAFF]
        self._helper_request()
        self._print_logins(staff)

    def _prefecture(self, code, name, sites):
        prefecture, _ = Prefecture.objects.get_or_create(code=code, defaults={"name": name})
        for site_code, site_name, address in sites:
            Site.objects.get_or_create(
                prefecture=prefecture,
                code=site_code,
                defaults={"name": site_name, "address": address},
            )
        for proc_code, proc_name, renewal, documents in PROCEDURES:
            Procedure.objects.get_or_create(
                prefecture=prefecture,
                code=proc_code,
                defaults={"name": proc_name, "is_renewal": renewal, "documents": documents},
            )
        return prefecture

    def _open_window(self, prefecture):
        if prefecture.windows.filter(
            state__in=[WindowState.SCHEDULED, WindowState.OPEN], closes_at__gt=timezone.now()
        ).exists():
            return
        now = timezone.now()
        closes = timezone.make_aware(datetime.combine(now.date() + timedelta(days=6), time(12)))
        window = Window.objects.create(
            prefecture=prefecture,
            code=f"{prefecture.code}-{now:%Y%m%d%H%M}",
            title=f"Rendez-vous de {_french_month(closes + timedelta(days=10))}",
            opens_at=now - timedelta(hours=1),
            closes_at=closes,
            freeze_at=closes,
            reveal_deadline=closes + timedelta(days=1),
            state=WindowState.OPEN,
            state_changed_at=now,
        )
        window.procedures.set(prefecture.procedures.all())
        self._slots(window, first_day=(closes + timedelta(days=3)).date())

    def _slots(self, window, first_day):
        sites = list(window.prefecture.sites.all())
        procedures = list(window.procedures.all())
        number = 0
        for day in range(10):
            date = first_day + timedelta(days=day)
            if date.isoweekday() > 5:
                continue
            for hour in (9, 10, 11, 14, 15):
                for site in sites:
                    procedure = procedures[(day + hour) % len(procedures)]
                    number += 1
                    Slot.objects.create(
                        window=window,
                        site=site,
                        procedure=procedure,
                        code=f"S{number:05d}",
                        starts_at=timezone.make_aware(datetime.combine(date, time(hour))),
                    )

    def _staff(self, username, role, prefecture_code):
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "role": role,
                "is_staff": True,
                "prefecture": Prefecture.objects.get(code=prefecture_code),
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        device, _ = TOTPDevice.objects.get_or_create(
            user=user, name="demo", defaults={"confirmed": True}
        )
        return user, device

    def _helper_request(self):
        """The demo helper asks to join the demo association, once (its own transaction)."""
        helper = User.objects.get(username="aide.isere")
        if not HelperMembership.objects.filter(user=helper).exists():
            helpers.request_membership(user=helper, organisation_name=DEMO_ASSOCIATION)

    def _print_logins(self, staff):
        self.stdout.write("\nDemo back-office logins (password + TOTP code), at /admin/:")
        self.stdout.write(f"  password for all: {DEMO_PASSWORD}")
        for user, device in staff:
            self.stdout.write(
                f"  {user.username:<20} {user.get_role_display():<11} {user.prefecture.name}"
            )
            self.stdout.write(f"      TOTP: {device.config_url}")
        self.stdout.write(
            "  Add the otpauth URI to an authenticator app, or get the current code "
            "with: .venv/bin/python manage.py totp_code <username>\n"
        )
