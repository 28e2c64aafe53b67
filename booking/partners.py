"""Partner keys: API clients that may register people without a proof of work.

A key is `fsk_` and 32 random bytes (base64url); only its SHA-256 is stored (a key has full
entropy, so a keyed or slow hash would add nothing). It is scoped to one prefecture.
"""

import hashlib
import secrets

from django.db import transaction
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.models import Role
from booking.models import PartnerKey, Prefecture, Window
from config.errors import DomainError

PREFIX = "fsk_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _require_supervisor(actor, prefecture_id: int) -> None:
    if actor.role != Role.SUPERVISOR or actor.prefecture_id != prefecture_id:
        raise DomainError(
            "forbidden", _("Only a supervisor of this prefecture can do this."), http_status=403
        )


def create_partner_key(*, prefecture: Prefecture, name: str, actor) -> tuple[PartnerKey, str]:
    """A new key for `prefecture`, created by a supervisor of it; returns the row and the key,
    which is shown once and never stored."""
    _require_supervisor(actor, prefecture.pk)
    key = PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        partner = PartnerKey.objects.create(
            prefecture=prefecture, name=name[:100], key_hash=_hash(key), created_by=actor
        )
        audit.record(
            "partner_key.created", actor=actor, target=partner, prefecture_id=prefecture.pk
        )
    return partner, key


def revoke_partner_key(*, partner: PartnerKey, actor) -> None:
    _require_supervisor(actor, partner.prefecture_id)
    with transaction.atomic():
        PartnerKey.objects.filter(pk=partner.pk, revoked_at__isnull=True).update(revoked_at=Now())
        audit.record(
            "partner_key.revoked", actor=actor, target=partner, prefecture_id=partner.prefecture_id
        )


def _invalid_key() -> DomainError:
    return DomainError(
        "partner_key_invalid",
        _("This partner key is not valid for this prefecture."),
        http_status=401,
    )


def partner_for(authorization: str, window: Window) -> PartnerKey | None:
    """The partner named by an `Authorization: Bearer <key>` header value, checked against the
    window's prefecture; None without a header. A wrong, revoked or foreign key is refused."""
    scheme, _space, key = (authorization or "").partition(" ")
    if not authorization:
        return None
    if scheme.lower() != "bearer" or not key.startswith(PREFIX):
        raise _invalid_key()
    partner = PartnerKey.objects.filter(
        key_hash=_hash(key.strip()), revoked_at__isnull=True, prefecture_id=window.prefecture_id
    ).first()
    if partner is None:
        raise _invalid_key()
    return partner
