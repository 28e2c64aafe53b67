"""A recent window of the demo prefecture, drawn and published at start, whose appointments are
next week: a demo applicant (phone 06 12 34 56 78) holds two urgent entries, so two offers
wait for them on "My entries" (idempotent). Their third and last seat (MAX_ENTRIES_PER_CONTACT)
is left for the demo day (load_demo_today). The demo applicant reads Arabic (`DEMO_LANGUAGE`):
the offer SMS printed in the worker's log is in Arabic, with its signed link.

Run `manage.py load_demo` first. No beacon (the public page says so); each step runs the real
service at the moment it would have run (`lottery.clock.at`), the publication now, so the
offers can be confirmed or declined for `offer_hours` after the first start. Fine for a demo,
never for a real draw. With --leave-draw-to-worker it stops after the reveal and the draw, its
publication and the offer SMS come from the beat and a Celery worker, as in production.
"""

from datetime import timedelta
from functools import partial
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import audit, contacts
from accounts.crypto import blind_index
from accounts.models import ContactKind, Person
from booking.models import (
    Appointment,
    AppointmentState,
    Entry,
    EntryStatus,
    Slot,
    Window,
    WindowState,
)
from booking.services import advance_window
from lottery import clock, offer_links, services, services_reveal
from lottery.management.commands.load_demo_draw import demo_person, demo_prefecture
from lottery.models import BeaconMode, Draw, DrawState
from lottery.services_run import run_draw

CODE = "ISERE-DEMO-OFFRES"
PHONE = "+33612345678"  # shown in `make run`'s banner
DEMO_LANGUAGE = "ar"
ENTRIES = 14
MINE = 2  # the demo applicant's (urgent: tier 0, drawn first)
SLOTS = 10


def recent_window(prefecture, code: str, title: str) -> Window:
    """A demo window of the renewal procedure that closed two days ago (created once)."""
    closes = timezone.now().replace(microsecond=0) - timedelta(days=2)
    window, created = Window.objects.get_or_create(
        code=code,
        defaults={
            "prefecture": prefecture,
            "title": title,
            "opens_at": closes - timedelta(days=7),
            "closes_at": closes,
            "freeze_at": closes,
            "reveal_deadline": closes + timedelta(days=1),
            "state": WindowState.OPEN,
        },
    )
    if created:
        window.procedures.set(prefecture.procedures.filter(code="RENEWAL"))
    return window


def draw_and_publish(window: Window, register) -> None:
    """Run a demo window's whole timeline through the real services, each step at the moment it
    would have run: announce, `register` its entries, close, freeze, reveal, draw, publish."""
    freeze_and_reveal(window, register)
    with clock.at(window.reveal_deadline + timedelta(minutes=5)):
        if Draw.objects.get(window=window).state == DrawState.FROZEN:
            run_draw(window_id=window.pk)
    services.publish_draw(window_id=window.pk)


def freeze_and_reveal(window: Window, register) -> None:
    """A demo window's timeline up to its reveal: announce, `register` its entries, close,
    freeze, reveal. Its reveal deadline has passed, so the draw is due: the beat's reconciler
    (ops.tasks.task_reconcile) has a worker run it, then publishes it and sends the messages."""
    with clock.at(window.opens_at - timedelta(days=2)):
        services.announce_draw(window_id=window.pk, beacon_mode=BeaconMode.NONE)
    if window.state == WindowState.OPEN:
        register()
        advance_window(window_id=window.pk, to_state=WindowState.CLOSED)
    with clock.at(window.freeze_at + timedelta(minutes=1)):
        services.freeze_draw(window_id=window.pk)
    with clock.at(window.freeze_at + timedelta(minutes=2)):
        services_reveal.reveal_operator_secret(window_id=window.pk)


class Command(BaseCommand):
    help = "Give the demo prefecture a recent, published draw with offers for a demo applicant."

    def add_arguments(self, parser):
        parser.add_argument(
            "--leave-draw-to-worker",
            action="store_true",
            help="Stop after the reveal: the beat's reconciler has a Celery worker run the "
            "draw, publish it and send the offers (tests/ops/test_smoke.py).",
        )

    @audit.acted_by("command_load_demo_offers")
    def handle(self, *args, **options):
        prefecture = demo_prefecture()
        if Draw.objects.filter(window__code=CODE, state=DrawState.PUBLISHED).exists():
            self.stdout.write(f"Demo offers already published: /draws/{CODE}/")
            self._print_links()
            return
        window = recent_window(
            prefecture, CODE, "Démonstration : rendez-vous proposés (tirage récent)"
        )
        register = partial(self._registrations, window, prefecture)
        if options["leave_draw_to_worker"]:
            freeze_and_reveal(window, register)
            self.stdout.write(f"Demo draw due, left to the worker: /draws/{CODE}/")
            return
        draw_and_publish(window, register)
        self.stdout.write(f"Demo offers published: /draws/{CODE}/")
        self._print_links()

    def _print_links(self):
        """Under DEBUG only: the signed links of the demo applicant's open offers, as their
        SMS carries them (a link opens its offer without a code: never print a real one)."""
        if not settings.DEBUG:
            return
        offers = Appointment.objects.filter(
            entry__window__code=CODE,
            entry__contact__value_hash=blind_index("contact", PHONE),
            state=AppointmentState.OFFERED,
            respond_by__gt=clock.now(),
        )
        for offer in offers.order_by("pk"):
            self.stdout.write(f"Offer link (DEBUG): {offer_links.url(offer)}")

    @transaction.atomic
    def _registrations(self, window, prefecture):
        if window.entries.exists():
            return
        procedure = window.procedures.get()
        sites = list(prefecture.sites.order_by("code"))
        contact = contacts.get_or_create_contact(kind=ContactKind.PHONE, value=PHONE)
        contacts.remember_language(contact, DEMO_LANGUAGE, actor="command_load_demo_offers")
        persons = Person.objects.bulk_create(
            [demo_person(n, "demo-offers", "98") for n in range(ENTRIES)]
        )
        for n, person in enumerate(persons):
            mine = n < MINE
            Entry.objects.create(
                window=window,
                procedure=procedure,
                person=person,
                status=EntryStatus.REGISTERED,
                contact=contact if mine else None,
                contact_seat=n + 1 if mine else None,
                urgent_approved=mine,
            )
        day = (window.reveal_deadline + timedelta(days=8)).astimezone(ZoneInfo("Europe/Paris"))
        while day.isoweekday() > 5:  # a working day
            day += timedelta(days=1)
        first = day.replace(hour=9, minute=0, second=0)
        for number in range(SLOTS):
            Slot.objects.create(
                window=window,
                site=sites[number % len(sites)],
                procedure=procedure,
                code=f"O{number:05d}",
                starts_at=first + timedelta(minutes=30 * number),
            )
