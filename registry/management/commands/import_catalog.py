from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from registry.catalog import CatalogError, catalog_apply, catalog_parse, catalog_read


class Command(BaseCommand):
    help = (
        "Import prices, context windows and deprecation dates for the registered model versions "
        "from a model catalog in LiteLLM's model_prices_and_context_window.json format (a path "
        "or an https URL; MODEL_CATALOG_SOURCE when omitted). Versions are never created; each "
        "changed version is audited."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("source", nargs="?", metavar="PATH_OR_URL")
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would change and write nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["source"] or settings.MODEL_CATALOG_SOURCE
        if not source:
            raise CommandError("Give a catalog path or https URL (or set MODEL_CATALOG_SOURCE).")
        try:
            catalog = catalog_parse(catalog_read(source))
        except CatalogError as exc:
            raise CommandError(str(exc)) from None
        summary = catalog_apply(
            catalog=catalog, actor="command", source=source, dry_run=options["dry_run"]
        )
        for change in summary.changes:
            fields = ", ".join(
                f"{name} {change.before[name]} -> {change.after[name]}" for name in change.after
            )
            self.stdout.write(f"{change.version} ({change.key}): {fields}")
            if change.note:
                self.stdout.write(f"  {change.note}")
        for problem in summary.problems:
            self.stderr.write(f"skipped {problem}")
        self.stdout.write(str(summary))
