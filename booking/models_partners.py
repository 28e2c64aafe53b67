"""Partners and association helpers: an API key of a partner, an organisation (an association)
approved by a supervisor, its helpers, and the consent each helper registration records.

booking/models.py imports these, so `from booking.models import Organisation` works as for the
other models of the app.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Now


class PartnerKey(models.Model):
    """An API key of a partner (an association's tool, a counter's software) scoped to one
    prefecture: its holder registers people into that prefecture's windows without a proof of
    work. Only the key's SHA-256 is stored; a supervisor creates it and sees it once."""

    prefecture = models.ForeignKey("booking.Prefecture", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefecture_id})"


class Approved(models.Model):
    """Who approved the row and when, and who revoked it and when (booking.helpers). Each
    model names its two checks: `approval_checks`."""

    created_at = models.DateTimeField(db_default=Now())
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True


def approval_checks(prefix: str) -> list[models.CheckConstraint]:
    """An approval names who gave it and when, or neither; so does a revocation, which comes
    after an approval."""
    return [
        models.CheckConstraint(
            name=f"{prefix}_approval_complete",
            condition=Q(approved_at__isnull=True, approved_by__isnull=True)
            | Q(approved_at__isnull=False, approved_by__isnull=False),
        ),
        models.CheckConstraint(
            name=f"{prefix}_revocation_complete",
            condition=Q(revoked_at__isnull=True, revoked_by__isnull=True)
            | Q(revoked_at__isnull=False, revoked_by__isnull=False, approved_at__isnull=False),
        ),
    ]


class Organisation(Approved):
    """An association whose members (helpers) register the people they accompany into one
    prefecture's windows. A supervisor of that prefecture approves it (booking.helpers); until
    then its helpers register nobody; once revoked, none of its helpers registers anyone again
    (the entries already made stay: each is a person's own)."""

    prefecture = models.ForeignKey(
        "booking.Prefecture", on_delete=models.PROTECT, related_name="organisations"
    )
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "prefecture", name="organisation_name_unique"),
            *approval_checks("organisation"),
        ]

    def __str__(self) -> str:
        return self.name


class HelperMembership(Approved):
    """A helper account (Role.HELPER) in its organisation, one organisation per account,
    approved by a supervisor of the organisation's prefecture, who may revoke it later."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="helper_membership"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships"
    )

    class Meta:
        constraints = approval_checks("helper_membership")

    def __str__(self) -> str:
        return f"Helper #{self.user_id} in {self.organisation_id}"


class HelperConsent(models.Model):
    """The consent of a person registered by a helper: to which entry, recorded by which helper
    of which organisation, when (database time), to which statement. One row per helper
    registration, which the caps per helper and per organisation count (hence the window here
    too: they are counted without reading the entries)."""

    entry = models.OneToOneField(
        "booking.Entry", on_delete=models.PROTECT, related_name="helper_consent"
    )
    window = models.ForeignKey(
        "booking.Window", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    helper = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    statement = models.CharField(max_length=400)
    consented_at = models.DateTimeField(db_default=Now())

    class Meta:
        indexes = [
            models.Index(fields=["window", "organisation"], name="consent_window_organisation"),
            models.Index(fields=["helper", "window"], name="consent_helper_window"),
        ]

    def __str__(self) -> str:
        return f"Consent for entry {self.entry_id}"
