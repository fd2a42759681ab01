from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from registry.services.audit import Head, audit_verify


class Command(BaseCommand):
    help = (
        "Verify the audit trail: every event's keyed hash and link, every checkpoint's MAC, and "
        "that no events are missing up to the newest checkpoint (or a head from the log)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--expect",
            metavar="COUNT:HASH",
            help=(
                "A head copied from an `audit.checkpoint` log line (its expect= field): the "
                "chain must hold at least COUNT events and pass through HASH at that position. "
                "Catches events cut off after the newest checkpoint row, or checkpoint rows "
                "deleted along with them."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            expect = Head.parse(options["expect"]) if options["expect"] else None
        except ValueError as exc:
            raise CommandError(f"--expect: {exc}.") from None
        report = audit_verify(expect=expect)
        if not report.ok:
            if report.broken_id is None:
                raise CommandError(
                    f"Audit trail broken: {report.problem} ({report.checked} events verified)."
                )
            raise CommandError(
                f"Audit chain broken at event #{report.broken_id}: {report.problem} "
                f"({report.checked} events before it verified)."
            )
        notes = []
        if report.checkpoint is not None:
            notes.append(
                f"reaches checkpoint #{report.checkpoint.pk} "
                f"({report.checkpoint.event_count} events)"
            )
        else:
            notes.append("no checkpoint yet, so events cut off the end cannot be detected")
        if expect is not None:
            notes.append(f"passes through the given head at {expect.count} events")
        if report.legacy:
            notes.append(f"{report.legacy} events from before the chain was keyed")
        self.stdout.write(
            self.style.SUCCESS(f"Audit chain intact: {report.checked} events; {'; '.join(notes)}.")
        )
        self.stdout.write(f"Head: {report.head.count}:{report.head.hash}")
