from django.core.management.base import BaseCommand, CommandError

from registry.services.audit import audit_verify


class Command(BaseCommand):
    help = "Walk the audit trail's hash chain and report the first broken link."

    def handle(self, *args, **options):
        report = audit_verify()
        if not report.ok:
            raise CommandError(
                f"Audit chain broken at event #{report.broken_id}: {report.problem} "
                f"({report.checked} events before it verified)."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} events."))
