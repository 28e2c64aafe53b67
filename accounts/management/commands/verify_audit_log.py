"""Walk the audit log's hash chain and name the first row that does not fit.

    python manage.py verify_audit_log

Exits 0 with the head when every row follows the one before, in order, never back-dated, and
the chain leads to every head published on the public draws page; exits 1 naming the first
row that was edited, deleted, inserted out of order or back-dated.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts import audit
from accounts.models import AuditEvent, AuditHead, PublishedAuditHead


class Command(BaseCommand):
    help = "Check the audit log's hash chain; exit 1 on the first row that does not fit."

    def handle(self, *args, **options):
        rows = AuditEvent.objects.order_by("seq").iterator(chunk_size=5000)
        published = dict(PublishedAuditHead.objects.values_list("seq", "hash"))
        head = AuditHead.objects.filter(pk=audit.HEAD).first()
        try:
            found = audit.verify(rows, head=head, published=published)
        finally:
            rows.close()  # an early break leaves no server-side cursor to close later
        if found is not None:
            raise CommandError(f"audit log broken at {found}", returncode=1)
        seq, digest = (head.seq, head.hash) if head else (0, "")
        self.stdout.write(f"audit log intact: {seq} rows, head {digest or '(empty)'}")
