"""A past window of the demo prefecture that went through the whole timeline (idempotent).

Run `manage.py load_demo` first. The window is dated September 2023 so that its beacon can be a
real drand quicknet round: round 657413, the FAIRDRAW-1 test vector's, whose signature is checked
here like any other (BLS, pinned key). Each step runs the real service at the moment it would
have run (`lottery.clock.at`), so the kit on /draws/ISERE-2023-09-DEMO/ replays. The second
party's secret is H("fairslot demo party"): fine for a demo, never for a real draw.
"""

import hashlib
import random
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import audit
from accounts.crypto import blind_index
from accounts.models import IdentityKind, Person, User
from booking.models import Entry, EntryStatus, Prefecture, Slot, Window, WindowState
from booking.services import advance_window
from lottery import beacon, clock, services, services_reveal
from lottery.fairdraw import crypto
from lottery.models import Draw, DrawState
from lottery.services_run import run_draw

CODE = "ISERE-2023-09-DEMO"
ROUND = 657413
SIGNATURE = (
    "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be"
    "41076862b98fad56e91a6b85b89cd97b"
)
PARTY = "ASSOCIATION_DEMO"
PARTY_SECRET = hashlib.sha256(b"fairslot demo party").digest()
ENTRIES = 320


class Command(BaseCommand):
    help = "Give the demo prefecture a past, published draw whose kit replays (idempotent)."

    @audit.acted_by("command_load_demo_draw")
    def handle(self, *args, **options):
        prefecture = demo_prefecture()
        if Draw.objects.filter(window__code=CODE, state=DrawState.PUBLISHED).exists():
            self.stdout.write(f"Demo draw already published: /draws/{CODE}/")
            return
        auditor = User.objects.get(username="auditeur.isere")
        supervisor = User.objects.get(username="superviseur.isere")
        window = self._window(prefecture)
        self._walk(window, auditor, supervisor)
        self.stdout.write(f"Demo draw published: /draws/{CODE}/")

    def _window(self, prefecture) -> Window:
        deadline = beacon.round_time(ROUND) - timedelta(hours=1)
        closes = deadline - timedelta(days=3)
        window, created = Window.objects.get_or_create(
            code=CODE,
            defaults={
                "prefecture": prefecture,
                "title": "Démonstration : rendez-vous d'octobre 2023 (tirage passé)",
                "opens_at": closes - timedelta(days=10),
                "closes_at": closes,
                "freeze_at": closes,
                "reveal_deadline": deadline,
                "state": WindowState.OPEN,
            },
        )
        if created:
            window.procedures.set(prefecture.procedures.filter(code__in=["RENEWAL", "FIRST"]))
        return window

    def _walk(self, window, auditor, supervisor):
        with clock.at(window.opens_at - timedelta(days=2)):
            services.announce_draw(window_id=window.pk)
        if window.state == WindowState.OPEN:
            if not services.DrawParty.objects.filter(draw__window=window, party_id=PARTY).exists():
                with clock.at(window.opens_at + timedelta(hours=1)):
                    services.register_party(
                        window_id=window.pk,
                        party_id=PARTY,
                        commitment=crypto.commitment(CODE, PARTY, PARTY_SECRET).hex(),
                        actor=auditor,
                    )
            self._registrations(window)
            advance_window(window_id=window.pk, to_state=WindowState.CLOSED)
        with clock.at(window.freeze_at + timedelta(minutes=1)):
            services.freeze_draw(window_id=window.pk)
        parties = services.DrawParty.objects.filter(draw__window=window, revealed_at__isnull=True)
        if parties.filter(is_operator=True).exists():
            with clock.at(window.freeze_at + timedelta(minutes=2)):
                services_reveal.reveal_operator_secret(window_id=window.pk)
        if parties.filter(party_id=PARTY).exists():
            with clock.at(window.freeze_at + timedelta(hours=5)):
                services_reveal.reveal_secret(
                    window_id=window.pk, party_id=PARTY, secret=PARTY_SECRET.hex(), actor=auditor
                )
        due = beacon.round_time(ROUND)
        with clock.at(due + timedelta(minutes=2)):
            services_reveal.record_beacon(
                window_id=window.pk, signature=SIGNATURE, actor=supervisor
            )
        with clock.at(due + timedelta(minutes=5)):
            if Draw.objects.get(window=window).state == DrawState.FROZEN:
                run_draw(window_id=window.pk)
        with clock.at(due + timedelta(minutes=20)):
            services.publish_draw(window_id=window.pk)

    @transaction.atomic
    def _registrations(self, window):
        if window.entries.exists():
            return
        rng = random.Random(CODE)  # synthetic demo data only; the draw never uses random
        procedures = list(window.procedures.all())
        sites = list(window.prefecture.sites.all())
        persons = Person.objects.bulk_create(
            [demo_person(n, "demo-draw", "99") for n in range(ENTRIES)], batch_size=500
        )
        span = (window.closes_at - window.opens_at).total_seconds()
        for n, person in enumerate(persons):
            procedure = procedures[n % len(procedures)]
            entry = Entry.objects.create(
                window=window,
                procedure=procedure,
                person=person,
                status=EntryStatus.REGISTERED,
                excluded_weekdays=rng.choice(["", "", "", "3", "15"]),
                permit_expires_on=(window.closes_at + timedelta(days=rng.randint(-20, 200))).date()
                if procedure.code == "RENEWAL"
                else None,
                urgent_approved=rng.random() < 0.03,
            )
            Entry.objects.filter(pk=entry.pk).update(
                created_at=window.opens_at + timedelta(seconds=rng.uniform(0, span))
            )
            if rng.random() < 0.3:
                entry.sites.set([rng.choice(sites)])
        self._slots(window, procedures, sites)

    def _slots(self, window, procedures, sites):
        first = (window.reveal_deadline + timedelta(days=10)).replace(hour=7, minute=0, second=0)
        number = 0
        for day in range(14):
            start = first + timedelta(days=day)
            if start.isoweekday() > 5:
                continue
            for half_hour in range(6):
                for site in sites:
                    number += 1
                    Slot.objects.create(
                        window=window,
                        site=site,
                        procedure=procedures[(day + half_hour) % len(procedures)],
                        code=f"D{number:05d}",
                        starts_at=start + timedelta(minutes=30 * half_hour),
                    )


def demo_prefecture() -> Prefecture:
    """The demo prefecture that `manage.py load_demo` creates."""
    prefecture = Prefecture.objects.filter(code="ISERE").first()
    if prefecture is None:
        raise CommandError("Run `manage.py load_demo` first (no ISERE prefecture).")
    return prefecture


def demo_person(n: int, tag: str, prefix: str) -> Person:
    """A synthetic person: foreign-national number `prefix` + n, hashes unique to `tag`."""
    identifier = f"{prefix}{n:08d}"
    return Person(
        kind=IdentityKind.FOREIGN_NUMBER,
        identifier=identifier,
        identity_hash=blind_index("identity", f"agdref:{tag}:{identifier}"),
        likeness_hash=blind_index("likeness", f"{tag}:{identifier}"),
        given_names="Démo",
        family_name=f"Personne{n}",
        birth_date="1990-01-01",
        nationality="ZZ",
    )
