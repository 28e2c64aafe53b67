"""Key rotation: every stored personal field rewritten under the newest encryption key.

Put a new key first in FIELD_ENCRYPTION_KEYS (the old ones after it: they still decrypt), deploy,
then run `manage.py rotate_field_keys`; once it has finished, the old keys can be removed. Values
written as Fernet tokens (before 2026-11-27) come out in the current form (accounts.crypto).

Safe to stop and to run again: a value already sealed under the newest key is left as it is, and
a value changed since it was read is not overwritten (the UPDATE names the value it replaces).
A value that no configured key decrypts stops the run with the model and the row's key, and
nothing of that row is written.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.db.models import TextField
from django.db.models.functions import Cast
from django.db.models.lookups import Exact

from accounts.crypto import DecryptionError, EncryptedTextField, decrypt, sealed_with_newest


@dataclass
class Progress:
    model: str
    read: int
    total: int
    rewritten: int


class UnreadableValue(Exception):
    """A stored value that no configured key decrypts (says where, never what)."""


def encrypted_fields() -> list[tuple[type, list[str]]]:
    """Every model with encrypted columns, and their names."""
    found = []
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            found.append((model, names))
    return found


def rotate_all(*, batch: int = 500, progress: Callable[[Progress], None] | None = None) -> dict:
    """Rewrite every encrypted value not yet sealed under the newest key, model by model in
    batches of `batch` rows; returns the number of values rewritten per model (label)."""
    rewritten = {}
    for model, names in encrypted_fields():
        label, total = model._meta.label, model.objects.count()
        done = read = last = 0
        raw = [Cast(name, output_field=TextField()) for name in names]  # as stored
        while True:
            rows = list(
                model.objects.filter(pk__gt=last).order_by("pk").values_list("pk", *raw)[:batch]
            )
            for pk, *values in rows:
                for name, value in zip(names, values, strict=True):
                    if value is not None and not sealed_with_newest(value):
                        done += _rewrite(model, pk, name, value)
            if not rows:
                break
            last, read = rows[-1][0], read + len(rows)
            if progress is not None:
                progress(Progress(label, read, total, done))
        rewritten[label] = done
    return rewritten


def _rewrite(model, pk, name: str, stored: str) -> int:
    try:
        plain = decrypt(stored)
    except DecryptionError:
        raise UnreadableValue(
            f"{model._meta.label} {pk}: {name} cannot be decrypted with the configured keys"
        ) from None
    unchanged = Exact(Cast(name, output_field=TextField()), stored)
    # The ORM encrypts `plain` anew, under the newest key.
    return model.objects.filter(unchanged, pk=pk).update(**{name: plain})
