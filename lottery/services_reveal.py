"""The draw's timeline, T3 and T4: the parties' reveals and the beacon round (FAIRDRAW-1
sections 4 and 5). Same rules as lottery.services: one transaction each, under the draw's lock,
with its audit row."""

import logging

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Role
from config.errors import Conflict, DomainError
from lottery import beacon, clock
from lottery.fairdraw import crypto
from lottery.models import BeaconMode, BeaconSource, Draw, DrawParty, DrawState, OperatorSecret
from lottery.services import audit_draw, is_hex, locked_draw

logger = logging.getLogger(__name__)


# --- T3 reveals --------------------------------------------------------------------------------


def reveal_secret(*, window_id: int, party_id: str, secret: str, actor=None) -> None:
    """A party reveals its secret. Only a reveal after the freeze and by the deadline that
    recomputes the commitment counts; any other is refused (and logged), and the party stays
    absent from the seed unless it reveals validly in time (section 4)."""
    refusal = None
    with transaction.atomic(durable=True):
        draw = locked_draw(window_id)
        party = draw.parties.filter(party_id=party_id.strip().upper()).first()
        now = clock.now()
        if party is None:
            raise DomainError(
                "party_unknown", _("This party is not in this draw."), http_status=404
            )
        if actor is not None and not _may_reveal(actor, draw, party):
            raise DomainError(
                "forbidden",
                _("Only the account that registered this party can reveal its secret."),
                http_status=403,
            )
        if party.revealed_at is not None:
            return
        refusal = _reveal_refusal(draw, party, secret, now)
        if refusal is None:
            DrawParty.objects.filter(pk=party.pk, revealed_at__isnull=True).update(
                secret=secret.strip().lower(), revealed_at=now
            )
            audit_draw("draw.revealed", draw, actor, party_id=party.party_id)
        else:
            audit_draw(
                "draw.reveal_refused", draw, actor, party_id=party.party_id, reason=refusal[0]
            )
    if refusal is not None:
        raise Conflict(*refusal)


def _may_reveal(actor, draw: Draw, party: DrawParty) -> bool:
    """A party's own account reveals it; the operator's party, by a supervisor of the draw's
    prefecture (the tick reveals it with no actor)."""
    if party.is_operator:
        return actor.role == Role.SUPERVISOR and actor.prefecture_id == draw.window.prefecture_id
    return actor.pk == party.registered_by_id


def _reveal_refusal(draw: Draw, party: DrawParty, secret: str, now):
    if draw.state != DrawState.FROZEN:
        return "reveal_not_open", _("Reveals are accepted only after the freeze.")
    if now > draw.window.reveal_deadline:
        return "reveal_late", _("The reveal deadline has passed: this party counts as absent.")
    secret = secret.strip().lower()
    if not is_hex(secret, 32) or not crypto.reveal_matches(
        draw.window.code, party.party_id, bytes.fromhex(secret), bytes.fromhex(party.commitment)
    ):
        return "reveal_mismatch", _("This secret does not match the commitment.")
    return None


def reveal_operator_secret(*, window_id: int) -> bool:
    """The operator reveals its own secret (the tick does this right after the freeze)."""
    party = DrawParty.objects.get(draw__window_id=window_id, is_operator=True)
    secret = OperatorSecret.objects.get(party=party).secret
    reveal_secret(window_id=window_id, party_id=party.party_id, secret=secret)
    return True


# --- T4 beacon ---------------------------------------------------------------------------------


def record_beacon(
    *,
    window_id: int,
    signature: str,
    randomness: str | None = None,
    source: str = BeaconSource.PASTE,
    actor=None,
) -> None:
    """Store round R after verifying its BLS signature; an unverified value is never stored.

    `source` paste (a supervisor, offline) and relay (the fetch task) go through the same check.
    """
    with transaction.atomic(durable=True):
        draw = locked_draw(window_id)
        if source == BeaconSource.PASTE and (
            actor is None
            or actor.role != Role.SUPERVISOR
            or actor.prefecture_id != draw.window.prefecture_id
        ):
            raise DomainError(
                "forbidden", _("Only a supervisor of this prefecture can do this."), http_status=403
            )
        if draw.beacon_mode != BeaconMode.QUICKNET or draw.beacon_source:
            return
        try:
            verified = beacon.verify(draw.beacon_round, signature.strip().lower(), randomness)
        except beacon.BeaconError as error:
            raise DomainError(
                "beacon_invalid", _("This beacon value does not verify for the announced round.")
            ) from error
        Draw.objects.filter(pk=draw.pk, beacon_source="").update(
            beacon_signature=signature.strip().lower(),
            beacon_randomness=verified,
            beacon_source=source,
            beacon_recorded_at=clock.now(),
        )
        audit_draw(
            "draw.beacon", draw, actor, round=draw.beacon_round, source=source, randomness=verified
        )


def fetch_beacon(*, window_id: int) -> bool:
    """Fetch and record round R (relays, verified); after 7 days apply the section 5 fallback.
    Returns whether the beacon question is settled."""
    draw = Draw.objects.select_related("window").get(window_id=window_id)
    if draw.beacon_mode != BeaconMode.QUICKNET or draw.beacon_source:
        return True
    due = beacon.round_time(draw.beacon_round)
    if clock.now() < due:
        return False
    try:
        value = beacon.fetch(draw.beacon_round)
    except beacon.BeaconError:
        if clock.now() >= due + beacon.FALLBACK_AFTER:
            _apply_fallback(window_id)
            return True
        return False
    record_beacon(
        window_id=window_id,
        signature=value["signature"],
        randomness=value["randomness"],
        source=BeaconSource.RELAY,
    )
    return True


def _apply_fallback(window_id: int) -> None:
    with transaction.atomic(durable=True):
        draw = locked_draw(window_id)
        changed = Draw.objects.filter(pk=draw.pk, beacon_source="").update(
            beacon_source=BeaconSource.FALLBACK, beacon_recorded_at=clock.now()
        )
        if changed:
            audit_draw("draw.beacon_fallback", draw, round=draw.beacon_round)


def beacon_ready(draw: Draw) -> bool:
    return draw.beacon_mode == BeaconMode.NONE or bool(draw.beacon_source)
