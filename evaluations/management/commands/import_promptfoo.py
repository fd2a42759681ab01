"""manage.py import_promptfoo --feature KEY promptfooconfig.yaml [files...] [--dry-run]

Prints the plan (suite, cases, providers, warnings, problems), then creates the suite unless
--dry-run. Exits non-zero, creating nothing, when the plan has problems. Files are named by
their path relative to the main file's folder, so `file://data/cases.csv` finds them.
"""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evaluations.importers.plan import ImportPlan
from evaluations.services.importing import ImportRefused, import_apply, import_plan
from registry.models import Feature


class Command(BaseCommand):
    help = "Import an eval suite from a promptfoo config (and the files it refers to) or JSONL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--feature", required=True, help="The feature key, e.g. support-reply")
        parser.add_argument("main", help="promptfooconfig.yaml, or a .jsonl file of cases")
        parser.add_argument("files", nargs="*", help="The files the config refers to")
        parser.add_argument("--dry-run", action="store_true", help="Print the plan only")

    def handle(self, *args: Any, **options: Any) -> None:
        feature = Feature.objects.filter(key=options["feature"]).first()
        if feature is None:
            raise CommandError(f"No feature with key '{options['feature']}'.")
        root = os.path.dirname(os.path.abspath(options["main"]))
        files: dict[str, bytes] = {}
        for path in [options["main"], *options["files"]]:
            name = os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
            try:
                with open(path, "rb") as handle:
                    files[name] = handle.read()
            except OSError as exc:
                raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        main = os.path.relpath(os.path.abspath(options["main"]), root).replace(os.sep, "/")
        plan = import_plan(feature=feature, files=files, main=main, actor="command")
        self._print(plan)
        if plan.problem_count:
            raise CommandError(f"Nothing imported: {plan.problem_count} problem(s) above.")
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing created.")
            return
        try:
            suite = import_apply(plan=plan, actor="command")
        except ImportRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Created suite '{suite.name}' ({suite.code}) with {len(plan.cases)} cases."
            )
        )

    def _print(self, plan: ImportPlan) -> None:
        out = self.stdout.write
        out(f"Suite '{plan.suite_name}' for feature {plan.feature_key}, from {plan.main}")
        out(f"{len(plan.cases)} cases, {plan.assertion_count} assertions")
        for case in plan.preview_cases:
            kinds = ", ".join(a["type"] for a in case.assertions) or "no assertions"
            flag = " [critical]" if case.critical else ""
            out(f"  - {case.name} ({case.dimension}{flag}): {kinds}")
        if len(plan.cases) > len(plan.preview_cases):
            out(f"  ... and {len(plan.cases) - len(plan.preview_cases)} more")
        for provider in plan.providers:
            target = ", ".join(provider.configs) or provider.note
            out(f"provider {provider.given}: {target}")
        for warning in plan.warnings:
            out(self.style.WARNING(f"warning: {warning}"))
        for problem in plan.problems:
            self.stderr.write(f"problem: {problem}")
