"""Prefectures, sites, procedures, slots, windows, entries and appointments (partners and
helpers: booking/models_partners.py, imported below so that Django registers them).

The fairness rules live here as database constraints: one active entry per person and procedure,
at most three active entries per contact (a seat number 1..3 under a unique constraint), one
holding appointment per slot and one per entry. Codes follow FAIRDRAW-1's `[A-Z0-9_]{1,32}`: they
go verbatim into the published draw files.
"""

import secrets
from itertools import combinations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import ExpressionWrapper, Q
from django.db.models.functions import Length, Now
from django.db.models.lookups import Exact
from django.utils.translation import gettext_lazy as _

from accounts.crypto import EncryptedTextField
from booking.models_partners import (  # noqa: F401
    HelperConsent,
    HelperMembership,
    Organisation,
    PartnerKey,
)

CODE_RE = r"^[A-Z0-9_]{1,32}$"
DRAW_ID_RE = r"^[A-Z0-9-]{1,64}$"
WEEKDAYS_RE = r"^1?2?3?4?5?6?7?$"
# The same two formats as database checks that cost little per row (the draw updates a million
# entries, and PostgreSQL evaluates every check of a row it updates: these two regular
# expressions cost about 4 s there): a length plus an unbounded character class, and the 128
# strings WEEKDAYS_RE accepts, as a list (hashed by PostgreSQL).
ENTRY_ID_CHARS_RE = r"^[0-9a-f]*$"
WEEKDAY_SETS = ["".join(days) for n in range(8) for days in combinations("1234567", n)]
code_validator = RegexValidator(CODE_RE, _("Use 1 to 32 capital letters, digits or _."))
draw_id_validator = RegexValidator(DRAW_ID_RE, _("Use 1 to 64 capital letters, digits or -."))
weekdays_validator = RegexValidator(WEEKDAYS_RE, _("ISO weekday digits 1-7, ascending."))


def _code_check(name: str, field: str = "code", pattern: str = CODE_RE) -> models.CheckConstraint:
    return models.CheckConstraint(name=name, condition=Q(**{f"{field}__regex": pattern}))


class Prefecture(models.Model):
    code = models.CharField(max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["name"]
        constraints = [_code_check("prefecture_code_format")]

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    prefecture = models.ForeignKey(Prefecture, on_delete=models.PROTECT, related_name="sites")
    code = models.CharField(max_length=32, validators=[code_validator])
    name = models.CharField(max_length=120)
    address = models.CharField(max_length=250, blank=True)

    class Meta:
        ordering = ["prefecture", "code"]
        constraints = [
            models.UniqueConstraint(fields=["prefecture", "code"], name="site_code_unique"),
            _code_check("site_code_format"),
        ]

    def __str__(self) -> str:
        return self.name


class Procedure(models.Model):
    prefecture = models.ForeignKey(Prefecture, on_delete=models.PROTECT, related_name="procedures")
    code = models.CharField(max_length=32, validators=[code_validator])
    name = models.CharField(max_length=120)
    is_renewal = models.BooleanField(default=False)
    # Kept by the prefecture, shown on the offer page and the convocation: one item per line.
    documents = models.TextField(_("What to bring"), blank=True, help_text=_("One item per line."))

    class Meta:
        ordering = ["prefecture", "code"]
        constraints = [
            models.UniqueConstraint(fields=["prefecture", "code"], name="procedure_code_unique"),
            _code_check("procedure_code_format"),
        ]

    def __str__(self) -> str:
        return self.name


class WindowState(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")
    DRAWN = "drawn", _("Drawn")
    PUBLISHED = "published", _("Published")


def absence_rule_default() -> bool:
    """A new window takes the absence rule from the settings (ABSENCE_LOWERS_WEIGHT, off by
    default). The rule then stays the window's: its announcement publishes it before the close,
    so changing the setting later changes no window already created."""
    return settings.ABSENCE_LOWERS_WEIGHT


class Window(models.Model):
    """A registration period for some procedures of one prefecture, with its draw.

    `code` is the draw_id of FAIRDRAW-1. State moves only forward, through services.
    """

    prefecture = models.ForeignKey(Prefecture, on_delete=models.PROTECT, related_name="windows")
    code = models.CharField(max_length=64, unique=True, validators=[draw_id_validator])
    title = models.CharField(max_length=160)
    procedures = models.ManyToManyField(Procedure, related_name="windows")
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    freeze_at = models.DateTimeField()
    reveal_deadline = models.DateTimeField()
    state = models.CharField(
        max_length=16, choices=WindowState.choices, default=WindowState.SCHEDULED, db_index=True
    )
    state_changed_at = models.DateTimeField(null=True, blank=True)
    # Written by the draw's freeze (booking never imports lottery): from then on the entry list
    # is the draw's input, and booking.duplicates refuses reviews that would change it.
    frozen_at = models.DateTimeField(null=True, blank=True)
    urgency_days = models.PositiveSmallIntegerField(default=30)
    offer_hours = models.PositiveSmallIntegerField(default=48)
    cancel_cutoff_hours = models.PositiveSmallIntegerField(default=24)
    # The published absence rule (lottery.services.entry_rules): whether an absence recorded for
    # a person lowers the weight of their entries in this window's draw.
    absence_lowers_weight = models.BooleanField(
        default=absence_rule_default, db_default=False, editable=False
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-opens_at"]
        constraints = [
            _code_check("window_code_format", pattern=DRAW_ID_RE),
            models.CheckConstraint(
                name="window_schedule_order",
                condition=Q(opens_at__lt=models.F("closes_at"))
                & Q(closes_at__lte=models.F("freeze_at"))
                & Q(freeze_at__lt=models.F("reveal_deadline")),
            ),
            models.CheckConstraint(
                name="window_state_valid", condition=Q(state__in=WindowState.values)
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Slot(models.Model):
    """A time at a site for a procedure, capacity one, allocated by one window's draw."""

    window = models.ForeignKey(Window, on_delete=models.PROTECT, related_name="slots")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="slots")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="slots")
    code = models.CharField(max_length=32, validators=[code_validator])
    starts_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at", "site__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["window", "code"], name="slot_code_unique"),
            _code_check("slot_code_format"),
        ]

    def __str__(self) -> str:
        return self.code


class Channel(models.TextChoices):
    WEB = "web", _("Web")
    API = "api", _("API")
    COUNTER = "counter", _("Counter")
    HELPER = "helper", _("Helper")


class EntryStatus(models.TextChoices):
    PENDING = "pending", _("Pending verification")
    REGISTERED = "registered", _("Registered")
    SELECTED = "selected", _("Selected")
    WAITING = "waiting", _("Waiting list")
    CARRIED = "carried", _("Carried to the next window")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Expired")


ACTIVE_ENTRY_STATUSES = [
    EntryStatus.PENDING,
    EntryStatus.REGISTERED,
    EntryStatus.SELECTED,
    EntryStatus.WAITING,
]
MAX_ENTRIES_PER_CONTACT = 3


def new_pending_token() -> str:
    return secrets.token_urlsafe(32)


def new_entry_id() -> str:
    """128 bits from the CSPRNG: encodes neither identity, nor time, nor order."""
    return secrets.token_hex(16)


class Entry(models.Model):
    """One person's registered need in a window."""

    # Indexes: the draw rewrites every entry of a window (rank, status: a million rows). An
    # UPDATE that changes no indexed column, and finds room on the row's page, is a HOT update
    # on PostgreSQL: it writes no index entry. So no index and no constraint predicate names
    # `status`; they name `active`, a stored generated column that registered -> selected or
    # waiting leaves true, and the table keeps room on each page (fillfactor, migration 0003).
    # No redundant index either: entry_id is unique through a constraint (a unique=True
    # CharField also gets a varchar_pattern_ops "_like" twin on PostgreSQL), and registered_by,
    # null for every web entry, is indexed only where set.
    window = models.ForeignKey(
        Window, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="entries")
    person = models.ForeignKey("accounts.Person", on_delete=models.PROTECT, related_name="entries")
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    contact_seat = models.PositiveSmallIntegerField(null=True, blank=True)
    entry_id = models.CharField(max_length=32, default=new_entry_id, editable=False)
    tier = models.PositiveSmallIntegerField(default=1)
    weight = models.PositiveSmallIntegerField(default=1)
    sites = models.ManyToManyField(Site, blank=True, related_name="+")
    excluded_weekdays = models.CharField(max_length=7, blank=True, validators=[weekdays_validator])
    permit_expires_on = models.DateField(null=True, blank=True)
    urgent_approved = models.BooleanField(default=False)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB)
    status = models.CharField(
        max_length=16, choices=EntryStatus.choices, default=EntryStatus.REGISTERED
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    carried_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="carried_to"
    )
    # Derived by the database: whether the entry holds its person's place (and contact seat).
    active = models.GeneratedField(
        expression=ExpressionWrapper(
            Q(status__in=ACTIVE_ENTRY_STATUSES), output_field=models.BooleanField()
        ),
        output_field=models.BooleanField(),
        db_persist=True,
    )
    # Written by the draw (booking never imports lottery; it sees outcomes as these fields).
    rank = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["window", "created_at"]
        verbose_name_plural = "entries"
        indexes = [
            models.Index(fields=["window", "active"], name="entry_window_active"),
            models.Index(
                fields=["registered_by"],
                condition=Q(registered_by__isnull=False),
                name="entry_registered_by",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["entry_id"], name="entry_id_unique"),
            models.UniqueConstraint(
                fields=["procedure", "person"],
                condition=Q(active=True),
                name="entry_one_active_per_person_procedure",
            ),
            models.UniqueConstraint(
                fields=["contact", "contact_seat"],
                condition=Q(active=True) & Q(contact__isnull=False),
                name="entry_contact_seat_unique",
            ),
            models.CheckConstraint(
                name="entry_contact_seat_range",
                condition=Q(contact_seat__isnull=True)
                | Q(contact_seat__gte=1, contact_seat__lte=MAX_ENTRIES_PER_CONTACT),
            ),
            models.CheckConstraint(name="entry_tier_range", condition=Q(tier__lte=9)),
            models.CheckConstraint(
                name="entry_weight_range", condition=Q(weight__gte=1, weight__lte=4)
            ),
            models.CheckConstraint(
                name="entry_id_format",
                condition=Exact(Length("entry_id"), 32) & Q(entry_id__regex=ENTRY_ID_CHARS_RE),
            ),
            models.CheckConstraint(
                name="entry_weekdays_format", condition=Q(excluded_weekdays__in=WEEKDAY_SETS)
            ),
            models.CheckConstraint(
                name="entry_status_valid", condition=Q(status__in=EntryStatus.values)
            ),
        ]

    def __str__(self) -> str:
        return f"E-{self.entry_id[:8].upper()}"

    @property
    def pseudonym(self) -> str:
        return str(self)


class AppointmentState(models.TextChoices):
    OFFERED = "offered", _("Offered")
    CONFIRMED = "confirmed", _("Confirmed")
    CHECKED_IN = "checked_in", _("Checked in")
    NO_SHOW = "no_show", _("No-show")
    DECLINED = "declined", _("Declined")
    LAPSED = "lapsed", _("Lapsed")
    CANCELLED = "cancelled", _("Cancelled")


# An appointment in one of these states holds its slot and its entry.
HOLDING_STATES = [
    AppointmentState.OFFERED,
    AppointmentState.CONFIRMED,
    AppointmentState.CHECKED_IN,
    AppointmentState.NO_SHOW,
]


class Appointment(models.Model):
    """An entry given a slot. It belongs to the person and cannot be transferred."""

    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="appointments")
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="appointments")
    state = models.CharField(
        max_length=16, choices=AppointmentState.choices, default=AppointmentState.OFFERED
    )
    offered_at = models.DateTimeField(db_default=Now())
    respond_by = models.DateTimeField(null=True, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    # Written once, by booking.checkin.check_in (database time): when, at which desk, by whom.
    checked_in_at = models.DateTimeField(null=True, blank=True, editable=False)
    # db_default: the draw inserts its appointments with SQL naming the columns it sets.
    checkin_desk = models.CharField(max_length=20, blank=True, db_default="", editable=False)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        editable=False,
    )

    class Meta:
        ordering = ["slot__starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["slot"],
                condition=Q(state__in=HOLDING_STATES),
                name="appointment_one_per_slot",
            ),
            models.UniqueConstraint(
                fields=["entry"],
                condition=Q(state__in=HOLDING_STATES),
                name="appointment_one_per_entry",
            ),
            models.CheckConstraint(
                name="appointment_state_valid", condition=Q(state__in=AppointmentState.values)
            ),
            # A check-in always says when and at which desk.
            models.CheckConstraint(
                name="appointment_checkin_recorded",
                condition=~Q(state=AppointmentState.CHECKED_IN)
                | (Q(checked_in_at__isnull=False) & ~Q(checkin_desk="")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entry} → {self.slot}"


class PendingRegistration(models.Model):
    """A registration waiting for its contact to be verified. Its answers are kept encrypted;
    nothing about the person is compared with existing entries until the code is verified, so
    that a known and an unknown person get the same answers (no enumeration)."""

    window = models.ForeignKey(Window, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("accounts.Contact", on_delete=models.CASCADE, related_name="+")
    payload = EncryptedTextField()
    token = models.CharField(max_length=43, unique=True, default=new_pending_token)
    # A client's retry key, scoped to the contact it names; bound to the hash of the answers.
    idempotency_key = models.CharField(max_length=80, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB)
    verified_at = models.DateTimeField(null=True, blank=True)
    entry = models.OneToOneField(
        Entry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="pending_idempotency_key_per_contact",
            )
        ]

    def __str__(self) -> str:
        return f"Pending #{self.pk}"


class DuplicateAttempt(models.Model):
    """Counts refused duplicates per verified contact and window (at most 3 answers)."""

    contact = models.ForeignKey("accounts.Contact", on_delete=models.CASCADE, related_name="+")
    window = models.ForeignKey(Window, on_delete=models.CASCADE, related_name="+")
    count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "window"], name="duplicate_attempt_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}@{self.window_id}: {self.count}"


class DuplicateDecision(models.TextChoices):
    KEEP_BOTH = "keep_both", _("Kept both: two different people")
    WITHDRAW = "withdraw", _("One entry withdrawn")


class DuplicateFlag(models.Model):
    """A likely duplicate found at submit: another person with the same names, birth date and
    nationality under another document number. It refuses nothing and is never shown to the
    applicant; a supervisor reviews it before the freeze (booking.duplicates). An empty
    `decision` means not reviewed yet."""

    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="duplicate_flags")
    similar_person = models.ForeignKey(
        "accounts.Person", on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())
    decision = models.CharField(
        max_length=16, choices=DuplicateDecision.choices, blank=True, default=""
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    withdrawn_entry = models.ForeignKey(
        Entry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "similar_person"], name="duplicate_flag_unique"
            ),
            # A decision names who took it and when; only a withdrawal names an entry.
            models.CheckConstraint(
                name="duplicate_flag_decision_complete",
                condition=Q(
                    decision="",
                    decided_by__isnull=True,
                    decided_at__isnull=True,
                    withdrawn_entry__isnull=True,
                )
                | Q(
                    decision=DuplicateDecision.KEEP_BOTH,
                    decided_by__isnull=False,
                    decided_at__isnull=False,
                    withdrawn_entry__isnull=True,
                )
                | Q(
                    decision=DuplicateDecision.WITHDRAW,
                    decided_by__isnull=False,
                    decided_at__isnull=False,
                    withdrawn_entry__isnull=False,
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"Flag #{self.pk} on entry {self.entry_id}"
