"""Writing the audit log. Call inside the service's transaction; never put personal data in
`data` (ids and pseudonyms only)."""

from django.db import models

from accounts.models import AuditEvent


def record(
    action: str,
    *,
    actor=None,
    target: models.Model | None = None,
    prefecture_id: int | None = None,
    actor_label: str = "",
    **data,
) -> AuditEvent:
    return AuditEvent.objects.create(
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=actor_label
        or (actor.get_username() if getattr(actor, "pk", None) else "system"),
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        prefecture_id=prefecture_id,
        data=data,
    )
