"""Writing the audit log. Call inside the service's transaction; never put personal data in
`data` (ids and pseudonyms only)."""

from django.db import models

from accounts.models import AuditEvent


def record(action: str, **kwargs) -> AuditEvent:
    """Write one audit event now (arguments as for `event_for`)."""
    event = event_for(action, **kwargs)
    event.save(force_insert=True)
    return event


def record_many(events: list[AuditEvent]) -> None:
    """Insert events built by `event_for` in one statement (a batch of re-offers)."""
    AuditEvent.objects.bulk_create(events)


def event_for(
    action: str,
    *,
    actor=None,
    target: models.Model | None = None,
    prefecture_id: int | None = None,
    actor_label: str = "",
    **data,
) -> AuditEvent:
    """An unsaved audit event (see `record`)."""
    return AuditEvent(
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=actor_label
        or (actor.get_username() if getattr(actor, "pk", None) else "system"),
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        prefecture_id=prefecture_id,
        data=data,
    )
