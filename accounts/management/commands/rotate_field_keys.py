"""Rewrite every encrypted personal field under the newest key of FIELD_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand, CommandError

from accounts import audit, rekey


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored personal field under the newest key of FIELD_ENCRYPTION_KEYS "
        "(put the new key first, keep the old ones after it until this has run). Safe to stop "
        "and to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=500, help="rows read at a time")

    @audit.acted_by("command_rotate_field_keys")
    def handle(self, *args, batch: int, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1")

        def show(step: rekey.Progress) -> None:
            self.stdout.write(
                f"{step.model}: {step.read}/{step.total} rows read, {step.rewritten} values "
                "rewritten"
            )

        try:
            rewritten = rekey.rotate_all(batch=batch, progress=show)
        except rekey.UnreadableValue as exc:
            raise CommandError(
                f"{exc}. Add the key it was written with to FIELD_ENCRYPTION_KEYS (after the "
                "newest) and run this again; what was rewritten so far stays rewritten."
            ) from None
        total = sum(rewritten.values())
        done = f"Done: {total} values rewritten under the newest key."
        self.stdout.write(self.style.SUCCESS(done))
