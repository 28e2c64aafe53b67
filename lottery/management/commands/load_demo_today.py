"""The demo day: a small window of the demo prefecture, drawn and published, whose draw gave the
demo applicant (phone 06 12 34 56 78) an appointment TODAY (Europe/Paris) at Grenoble, which
they confirmed: a demo agent can check them in from the QR code of their convocation.

One window a day (its code ends with the date): a second run the same day adds nothing; a run
on a later day adds that day's. Run `manage.py load_demo` first. Each step is the real service
at the moment it would have run (`lottery.clock.at`), as in load_demo_offers; the answer is the
applicant's own service (`accept_offer`). Prints the convocation's address and, under DEBUG
only, the check-in code. Fine for a demo, never for a real draw.
"""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import audit, contacts
from accounts.models import ContactKind, Person
from booking.checkin import today
from booking.checkin_token import PARIS, make_token
from booking.models import (
    MAX_ENTRIES_PER_CONTACT,
    Appointment,
    AppointmentState,
    Entry,
    EntryStatus,
    Slot,
    Window,
)
from lottery import services_offers
from lottery.management.commands.load_demo_draw import demo_person, demo_prefecture
from lottery.management.commands.load_demo_offers import PHONE, draw_and_publish, recent_window
from lottery.models import Draw, DrawState

CODE_PREFIX = "ISERE-DEMO-JOUR-"
SITE = "GRENOBLE"
ENTRIES = 3  # the first the demo applicant's (urgent: tier 0, drawn first)
SLOTS = 2


def window_code(day) -> str:
    return f"{CODE_PREFIX}{day:%Y%m%d}"


class Command(BaseCommand):
    help = "Give the demo applicant a confirmed appointment today, to check in (idempotent)."

    @audit.acted_by("command_load_demo_today")
    def handle(self, *args, **options):
        prefecture = demo_prefecture()
        day = today()
        code = window_code(day)
        if not Draw.objects.filter(window__code=code, state=DrawState.PUBLISHED).exists():
            if not Window.objects.filter(code=code).exists() and self._free_seat() is None:
                self.stdout.write(
                    f"Demo day {day}: not added, the demo applicant already holds "
                    f"{MAX_ENTRIES_PER_CONTACT} active entries (`rm -rf var/` starts afresh)."
                )
                return
            window = recent_window(
                prefecture, code, "Démonstration : rendez-vous du jour (accueil)"
            )
            draw_and_publish(window, lambda: self._registrations(window, day))
        appointment = self._mine(code)
        if appointment is None:
            self.stdout.write(f"Demo day {day}: the demo applicant holds no appointment today.")
            return
        if appointment.state == AppointmentState.OFFERED:
            services_offers.accept_offer(appointment_id=appointment.pk)
            appointment.refresh_from_db()
        self._report(appointment, day)

    def _free_seat(self) -> int | None:
        """The demo applicant's first free seat (a contact holds MAX_ENTRIES_PER_CONTACT
        active entries at most), or None."""
        contact = contacts.get_or_create_contact(kind=ContactKind.PHONE, value=PHONE)
        taken = set(
            Entry.objects.filter(contact=contact, active=True).values_list(
                "contact_seat", flat=True
            )
        )
        free = [seat for seat in range(1, MAX_ENTRIES_PER_CONTACT + 1) if seat not in taken]
        return free[0] if free else None

    @transaction.atomic
    def _registrations(self, window, day) -> None:
        if window.entries.exists():
            return
        procedure = window.procedures.get()
        site = window.prefecture.sites.get(code=SITE)
        contact = contacts.get_or_create_contact(kind=ContactKind.PHONE, value=PHONE)
        seat = self._free_seat()
        persons = Person.objects.bulk_create(
            [demo_person(n, f"demo-day-{day:%Y%m%d}", "97") for n in range(ENTRIES)]
        )
        for n, person in enumerate(persons):
            mine = n == 0
            Entry.objects.create(
                window=window,
                procedure=procedure,
                person=person,
                status=EntryStatus.REGISTERED,
                contact=contact if mine else None,
                contact_seat=seat if mine else None,
                urgent_approved=mine,
            )
        # Later today (the applicant's page lists coming appointments only), 23:30 at the latest.
        now = timezone.now().astimezone(PARIS)
        first = (now + timedelta(minutes=60 - now.minute % 30)).replace(second=0, microsecond=0)
        last = datetime.combine(day, time(23, 30), tzinfo=PARIS)
        first = min(first, last - timedelta(minutes=30 * (SLOTS - 1)))
        for number in range(SLOTS):
            Slot.objects.create(
                window=window,
                site=site,
                procedure=procedure,
                code=f"J{number:05d}",
                starts_at=first + timedelta(minutes=30 * number),
            )

    def _mine(self, code) -> Appointment | None:
        return (
            Appointment.objects.select_related("entry", "slot__site", "slot__window")
            .filter(
                slot__window__code=code,
                entry__contact__isnull=False,
                state__in=[
                    AppointmentState.OFFERED,
                    AppointmentState.CONFIRMED,
                    AppointmentState.CHECKED_IN,
                ],
            )
            .first()
        )

    def _report(self, appointment, day) -> None:
        starts = appointment.slot.starts_at.astimezone(PARIS)
        site = appointment.slot.site
        self.stdout.write(
            f"Demo day {day}: the demo applicant's appointment at {starts:%H:%M}, {site.name} "
            f"({appointment.get_state_display()})."
        )
        self.stdout.write(
            "  Convocation (log in as the demo applicant first): "
            + reverse("my-convocation", args=[appointment.pk])
        )
        if settings.DEBUG and appointment.state == AppointmentState.CONFIRMED:
            self.stdout.write(
                f"  Check-in code, for agent.isere at {reverse('staff-checkin')}: "
                f"{make_token(appointment)}"
            )
