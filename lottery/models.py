"""Draw records. (The engine itself, lottery/fairdraw/, imports nothing of Django.)

A Draw is the public record of one window's draw (FAIRDRAW-1 sections 11 and 13): everything on
it may be shown to anyone, except the operator's secret, which lives in its own table
(`OperatorSecret`) that no public page or serializer reads. Frozen files are stored as their
exact bytes: the digests published at freeze must always identify them.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from accounts.crypto import EncryptedTextField
from lottery.blobs import BLOB_FIELDS

PARTY_ID_RE = r"^[A-Z0-9_]{1,32}$"
HEX64_RE = r"^[0-9a-f]{64}$"


class DrawState(models.TextChoices):
    ANNOUNCED = "announced", _("Announced")
    FROZEN = "frozen", _("Frozen")
    DRAWN = "drawn", _("Drawn")
    HELD = "held", _("Held for review")
    PUBLISHED = "published", _("Published")


class BeaconMode(models.TextChoices):
    QUICKNET = "quicknet", _("drand quicknet")
    NONE = "none", _("No beacon")


class BeaconSource(models.TextChoices):
    RELAY = "relay", _("Fetched from a drand relay")
    PASTE = "paste", _("Pasted by a supervisor")
    FALLBACK = "fallback", _("Fallback: round unavailable for 7 days")


class DrawManager(models.Manager):
    """Loads draws without their files (up to about 110 MB each): read them with
    `lottery.blobs.read`, or let the ORM load one on first access."""

    def get_queryset(self):
        return super().get_queryset().defer(*BLOB_FIELDS, "results_index")


class Draw(models.Model):
    window = models.OneToOneField("booking.Window", on_delete=models.PROTECT, related_name="draw")
    state = models.CharField(
        max_length=16, choices=DrawState.choices, default=DrawState.ANNOUNCED, db_index=True
    )
    announced_at = models.DateTimeField()
    # Beacon, fixed at announcement (section 5).
    beacon_mode = models.CharField(max_length=16, choices=BeaconMode.choices)
    beacon_round = models.BigIntegerField(null=True, blank=True)
    beacon_signature = models.CharField(max_length=96, blank=True)
    beacon_randomness = models.CharField(max_length=64, blank=True)
    beacon_source = models.CharField(max_length=16, choices=BeaconSource.choices, blank=True)
    beacon_recorded_at = models.DateTimeField(null=True, blank=True)
    # Freeze (T2).
    frozen_at = models.DateTimeField(null=True, blank=True)
    entries_csv = models.BinaryField(null=True, blank=True)
    slots_csv = models.BinaryField(null=True, blank=True)
    entries_digest = models.CharField(max_length=64, blank=True)
    slots_digest = models.CharField(max_length=64, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    # Results (T5).
    drawn_at = models.DateTimeField(null=True, blank=True)
    seed = models.CharField(max_length=64, blank=True)
    ticket_key = models.CharField(max_length=64, blank=True)
    results_csv = models.BinaryField(null=True, blank=True)
    # Where each page of the public results starts in results.csv (lottery.results_pages).
    results_index = models.BinaryField(null=True, blank=True)
    # Outcome messages, written in batches after publication (services.notify_outcomes).
    notified_through = models.BigIntegerField(null=True, blank=True)
    notified_messages = models.PositiveIntegerField(default=0)
    notified_at = models.DateTimeField(null=True, blank=True)
    results_digest = models.CharField(max_length=64, blank=True)
    checks = models.JSONField(default=dict, blank=True)
    checks_passed = models.BooleanField(null=True, blank=True)
    # Supervisor review of a draw whose checks failed (logged in the audit trail too).
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = DrawManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="draw_state_valid", condition=Q(state__in=DrawState.values)
            ),
            models.CheckConstraint(
                name="draw_beacon_round",
                condition=Q(beacon_mode=BeaconMode.NONE, beacon_round__isnull=True)
                | Q(beacon_mode=BeaconMode.QUICKNET, beacon_round__gte=1),
            ),
        ]

    def __str__(self) -> str:
        return f"Draw {self.window_id}"


class DrawParty(models.Model):
    """A party of the draw: its public commitment, and its secret once validly revealed."""

    draw = models.ForeignKey(Draw, on_delete=models.PROTECT, related_name="parties")
    party_id = models.CharField(max_length=32)
    commitment = models.CharField(max_length=64)
    is_operator = models.BooleanField(default=False)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    committed_at = models.DateTimeField()
    secret = models.CharField(max_length=64, blank=True)  # hex; only a valid, timely reveal
    revealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["party_id"]
        constraints = [
            models.UniqueConstraint(fields=["draw", "party_id"], name="draw_party_unique"),
            models.UniqueConstraint(
                fields=["draw"], condition=Q(is_operator=True), name="draw_one_operator"
            ),
            models.CheckConstraint(
                name="draw_party_id_format", condition=Q(party_id__regex=PARTY_ID_RE)
            ),
            models.CheckConstraint(
                name="draw_party_commitment_format", condition=Q(commitment__regex=HEX64_RE)
            ),
        ]

    def __str__(self) -> str:
        return self.party_id


class OperatorSecret(models.Model):
    """The operator's 32-byte secret (hex, encrypted at rest) until the service reveals it.

    Kept apart from DrawParty so that no public page, serializer or admin list can show it by
    accident: only lottery.services reads it.
    """

    party = models.OneToOneField(DrawParty, on_delete=models.PROTECT, related_name="+")
    secret = EncryptedTextField()

    def __str__(self) -> str:
        return f"Operator secret of {self.party_id}"


class DrawEvent(models.Model):
    """One line of the draw's events.log (FAIRDRAW-1 section 10), hash-chained to the last.

    Lines are appended under the draw row's lock, so `seq` has no gap and `prev` always names
    the line before; the unique constraint is the backstop.
    """

    draw = models.ForeignKey(Draw, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField()
    line = models.CharField(max_length=200)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["draw", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["draw", "seq"], name="draw_event_seq_unique"),
        ]

    def __str__(self) -> str:
        return self.line


class EventLogHead(models.Model):
    """The head of a draw's events.log as published on a day (FAIRDRAW-1 section 10: "the
    latest line hash is published daily"). Rows are only ever added, one per draw and day, so
    the public page keeps every published head: a later rewrite of the log would contradict
    them."""

    draw = models.ForeignKey(Draw, on_delete=models.PROTECT, related_name="heads")
    day = models.DateField()  # Europe/Paris
    seq = models.PositiveIntegerField()
    head = models.CharField(max_length=64)
    published_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["draw", "-day"]
        constraints = [
            models.UniqueConstraint(fields=["draw", "day"], name="event_head_one_per_day"),
            models.CheckConstraint(name="event_head_hex", condition=Q(head__regex=HEX64_RE)),
        ]

    def __str__(self) -> str:
        return f"{self.draw_id} {self.day} #{self.seq}"


class DrawKit(models.Model):
    """The replay kit's zip as served: built once per state of the published files (`key`,
    lottery.kit.kit_key), not per download; at a million entries a build deflates about 200 MB.
    Only the latest kit of a draw is kept."""

    draw = models.ForeignKey(Draw, on_delete=models.CASCADE, related_name="kits")
    key = models.CharField(max_length=64)
    zip = models.BinaryField()
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["draw", "key"], name="draw_kit_key_unique"),
        ]

    def __str__(self) -> str:
        return f"Kit of {self.draw_id} ({self.size} bytes)"


class RequestKind(models.TextChoices):
    URGENCY = "urgency", _("Urgent tier for an entry")
    EARLY_CLOSE = "early_close", _("Close the window early")
    CANCELLATION = "cancellation", _("Cancel an appointment")


class RequestState(models.TextChoices):
    PENDING = "pending", _("Waiting for a second supervisor")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")


class StaffRequest(models.Model):
    """A staff action that takes four eyes (lottery.four_eyes): stored pending, applied only when
    a different supervisor of the same prefecture approves it. The constraint keeps anyone from
    deciding their own request, whatever the code does."""

    window = models.ForeignKey("booking.Window", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    entry = models.ForeignKey(
        "booking.Entry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    appointment = models.ForeignKey(
        "booking.Appointment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=500)
    state = models.CharField(
        max_length=16, choices=RequestState.choices, default=RequestState.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(db_default=Now())
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="staffrequest_not_own_decision",
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("requested_by")),
            ),
            models.CheckConstraint(
                name="staffrequest_state_valid", condition=Q(state__in=RequestState.values)
            ),
            models.CheckConstraint(
                name="staffrequest_kind_valid", condition=Q(kind__in=RequestKind.values)
            ),
        ]

    def __str__(self) -> str:
        return f"Request #{self.pk} {self.kind} ({self.state})"
