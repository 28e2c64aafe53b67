"""People and access: staff users with a role in one prefecture, applicants' identities and
contacts (encrypted, with blind indexes), and the append-only audit log."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _
from django_otp.models import SideChannelDevice

from accounts.crypto import EncryptedTextField


class Role(models.TextChoices):
    NONE = "", _("No staff role")
    AGENT = "agent", _("Agent")
    SUPERVISOR = "supervisor", _("Supervisor")
    AUDITOR = "auditor", _("Auditor")
    HELPER = "helper", _("Helper (association)")


class User(AbstractUser):
    """A person who logs in with a password and TOTP: agents, supervisors, auditors, helpers.

    Staff roles are scoped to exactly one prefecture; the constraint keeps a role from existing
    without one. (Prefecture is referenced lazily: accounts does not import booking.)
    """

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.NONE, blank=True)
    prefecture = models.ForeignKey(
        "booking.Prefecture", null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="user_role_valid",
                condition=Q(role__in=[choice.value for choice in Role]),
            ),
            models.CheckConstraint(
                name="user_role_needs_prefecture",
                condition=Q(role="") | Q(prefecture__isnull=False),
            ),
        ]

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR


class IdentityKind(models.TextChoices):
    FOREIGN_NUMBER = "agdref", _("Foreign-national number")
    PASSPORT = "passport", _("Passport")


class Person(models.Model):
    """An applicant's verified identity. Only encrypted values and keyed hashes are stored.

    `identity_hash` is the blind index of the normalised identifier (foreign-national number, or
    passport number + nationality + birth date) and carries uniqueness. `likeness_hash` (names +
    birth date + nationality) only flags likely duplicates for agents; it refuses nothing.
    """

    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    identity_hash = models.CharField(max_length=64, unique=True)
    likeness_hash = models.CharField(max_length=64, db_index=True)
    identifier = EncryptedTextField()
    given_names = EncryptedTextField()
    family_name = EncryptedTextField()
    birth_date = EncryptedTextField()
    nationality = models.CharField(max_length=2)
    # Absences (confirmed appointments missed without a check-in), counted by lottery.absences
    # for the person's later entries: agents see the count at check-in, and a window whose
    # published rule says so gives weight 1 to an entry of a person absent within a year.
    # db_default: rows written by SQL of our own (bench COPYs) get a count too.
    absences = models.PositiveSmallIntegerField(default=0, db_default=0, editable=False)
    last_absence_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"Person #{self.pk}"


class ContactKind(models.TextChoices):
    PHONE = "phone", _("Mobile phone")
    EMAIL = "email", _("E-mail")


class Contact(models.Model):
    """A phone number (E.164) or e-mail address, encrypted, unique by its blind index.

    Each contact has a Django user (no password, no staff role) so that the applicant's
    session and the django-otp device hang off the standard machinery.
    """

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="contact")
    kind = models.CharField(max_length=8, choices=ContactKind.choices)
    value_hash = models.CharField(max_length=64, unique=True)
    value = EncryptedTextField()
    verified_at = models.DateTimeField(null=True, blank=True)
    # The language chosen at registration (settings.LANGUAGES): every later message uses it.
    language = models.CharField(max_length=8, default="fr", db_default="fr")
    created_at = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"Contact #{self.pk} ({self.kind})"


class AuditEvent(models.Model):
    """One row per state change, written in the same transaction as the change (accounts.audit).

    Tamper-evident: rows are numbered (`seq`) in commit order and each carries the SHA-256 of
    the previous row's canonical form (`prev_hash`), so an edited, deleted, inserted or
    back-dated row breaks the chain (`manage.py verify_audit_log`). `at` is the database's
    time. Append-only: the model refuses updates and deletes, and on PostgreSQL triggers refuse
    UPDATE, DELETE and TRUNCATE too. No personal data: ids and pseudonyms only."""

    seq = models.PositiveBigIntegerField(unique=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT)
    actor_label = models.CharField(max_length=64)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    # The pseudonym of the person concerned (an entry's "E-…", a contact's "C-…"), if any.
    reference = models.CharField(max_length=32, blank=True)
    prefecture_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-seq"]
        constraints = [
            models.CheckConstraint(name="auditevent_actor_named", condition=~Q(actor_label=""))
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.at:%Y-%m-%d %H:%M:%S} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("the audit log is append-only")


class AuditHead(models.Model):
    """The chain's last row (one row, pk 1), locked by each writer: it orders the rows in
    commit order and lets the verifier notice rows cut from the end."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"audit head #{self.seq}"


class PublishedAuditHead(models.Model):
    """The chain's head as published on the public draws page once a day: anyone who noted it
    can tell later whether rows before it were rewritten or cut."""

    day = models.DateField(unique=True)
    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    published_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day}: #{self.seq} {self.hash[:12]}"


class OutboxState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class OutboxMessage(models.Model):
    """A message (SMS or e-mail) written in the same transaction as the decision it reports and
    delivered later, at least once, by a Celery task. `dedup_key` makes a repeat a no-op here and
    is passed to the gateway so that it can drop a resend of the same message."""

    channel = models.CharField(max_length=8, choices=ContactKind.choices)
    recipient = EncryptedTextField()
    subject = models.CharField(max_length=200, blank=True)
    body = EncryptedTextField()
    dedup_key = models.CharField(max_length=100, unique=True)
    state = models.CharField(
        max_length=8, choices=OutboxState.choices, default=OutboxState.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_default=Now())
    claimed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Outbox #{self.pk} {self.channel} {self.state}"


class ContactCodeDevice(SideChannelDevice):
    """django-otp side-channel device delivering one-time codes to a Contact by SMS or e-mail.

    Unlike the stock device, the code is stored as a keyed hash, tries are counted per code,
    and consecutive failures lock the contact (django-otp alone only delays).
    """

    token = models.CharField(max_length=64, blank=True, null=True)
    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, related_name="device")
    attempts = models.PositiveSmallIntegerField(default=0)
    consecutive_failures = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    lock_count = models.PositiveSmallIntegerField(default=0)
    sent_count = models.PositiveIntegerField(default=0)
