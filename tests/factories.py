"""factory_boy factories for the domain. Identity values are synthetic canaries."""

from datetime import timedelta

import factory
from django.utils import timezone

from accounts.crypto import blind_index
from accounts.models import Contact, ContactKind, IdentityKind, Person, Role, User
from booking.models import (
    Appointment,
    Entry,
    EntryStatus,
    Prefecture,
    Procedure,
    Site,
    Slot,
    Window,
    WindowState,
)


class PrefectureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prefecture
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"PREF{n}")
    name = factory.LazyAttribute(lambda o: f"Préfecture {o.code}")


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    prefecture = factory.SubFactory(PrefectureFactory)
    code = factory.Sequence(lambda n: f"SITE{n}")
    name = factory.LazyAttribute(lambda o: f"Site {o.code}")


class ProcedureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Procedure

    prefecture = factory.SubFactory(PrefectureFactory)
    code = factory.Sequence(lambda n: f"PROC{n}")
    name = factory.LazyAttribute(lambda o: f"Procedure {o.code}")


class WindowFactory(factory.django.DjangoModelFactory):
    """An open window by default: opened an hour ago, closing in five days."""

    class Meta:
        model = Window
        skip_postgeneration_save = True

    prefecture = factory.SubFactory(PrefectureFactory)
    code = factory.Sequence(lambda n: f"TEST-{n:04d}")
    title = factory.Sequence(lambda n: f"Window {n}")
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    closes_at = factory.LazyAttribute(lambda o: o.opens_at + timedelta(days=5))
    freeze_at = factory.LazyAttribute(lambda o: o.closes_at)
    reveal_deadline = factory.LazyAttribute(lambda o: o.freeze_at + timedelta(days=1))
    state = WindowState.OPEN

    @factory.post_generation
    def procedures(self, create, extracted, **kwargs):
        if create:
            self.procedures.set(extracted or [ProcedureFactory(prefecture=self.prefecture)])


class SlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Slot

    window = factory.SubFactory(WindowFactory)
    site = factory.LazyAttribute(lambda o: SiteFactory(prefecture=o.window.prefecture))
    procedure = factory.LazyAttribute(lambda o: o.window.procedures.first())
    code = factory.Sequence(lambda n: f"S{n:05d}")
    starts_at = factory.LazyAttribute(lambda o: o.window.reveal_deadline + timedelta(days=3))


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    kind = IdentityKind.FOREIGN_NUMBER
    identifier = factory.Sequence(lambda n: f"{7500000000 + n}")
    identity_hash = factory.LazyAttribute(
        lambda o: blind_index("identity", f"agdref:{o.identifier}")
    )
    likeness_hash = factory.LazyAttribute(lambda o: blind_index("likeness", o.identifier))
    given_names = "Canary"
    family_name = factory.Sequence(lambda n: f"Testperson{n}")
    birth_date = "1990-01-01"
    nationality = "AF"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    kind = ContactKind.PHONE
    value = factory.Sequence(lambda n: f"+3361234{n:04d}")
    value_hash = factory.LazyAttribute(lambda o: blind_index("contact", o.value))
    verified_at = factory.LazyFunction(timezone.now)


class EntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Entry

    window = factory.SubFactory(WindowFactory)
    procedure = factory.LazyAttribute(lambda o: o.window.procedures.first())
    person = factory.SubFactory(PersonFactory)
    status = EntryStatus.REGISTERED


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment

    entry = factory.SubFactory(EntryFactory)
    slot = factory.SubFactory(SlotFactory, window=factory.SelfAttribute("..entry.window"))


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"staff{n}")
    role = Role.AGENT
    is_staff = True
    prefecture = factory.SubFactory(PrefectureFactory)
    password = factory.django.Password("correct horse battery staple")
