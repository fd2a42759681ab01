"""manage.py import_pairs FILE --rollout CODE
   manage.py import_pairs FILE --feature KEY --baseline-config CODE --candidate-config CODE
   [--name TEXT] [--dry-run]

Imports pairs produced elsewhere (JSONL, or CSV when the name ends in .csv; the record format is
in comparisons/services/importing.py). With --feature, an offline comparison of the two configs
is created first, in the same transaction as the import. Every problem is printed with its line
and field, and nothing is written; --dry-run prints what would be created and writes nothing.
"""

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from comparisons.batches import ImportBatch
from comparisons.services import importing
from comparisons.services.offline import offline_comparison_create
from registry.errors import DomainError
from registry.models import Feature, ModelConfig, Rollout


class _DryRun(Exception):
    pass


class Command(BaseCommand):
    help = "Import pairs (JSONL or CSV) into a rollout or a new offline comparison."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--rollout", help="Code (UUID) of the rollout to import into")
        parser.add_argument("--feature", help="Key of the feature of a new offline comparison")
        parser.add_argument("--baseline-config", help="Code (UUID) of its baseline config")
        parser.add_argument("--candidate-config", help="Code (UUID) of its candidate config")
        parser.add_argument("--name", default="", help="Name of the offline comparison")
        parser.add_argument("--dry-run", action="store_true", help="Check and count only")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        if path.stat().st_size > importing.MAX_FILE_BYTES:
            raise CommandError(f"{path} is larger than {importing.MAX_FILE_BYTES} bytes; split it.")
        parsed = importing.parse_file(path.read_bytes(), file_name=path.name)
        if parsed.error_count:
            self._fail(parsed.errors, parsed.error_count)
        try:
            with transaction.atomic():
                rollout = self._target(opts, file_name=path.name)
                if opts["dry_run"]:
                    preview = importing.import_preview(rollout=rollout, parsed=parsed)
                    if preview.error_count:
                        self._fail(preview.errors, preview.error_count)
                    self.stdout.write(
                        f"Would import {preview.records} pairs: {preview.flagged} flagged, "
                        f"{preview.queued} queued for review, {preview.unpinned} with an "
                        "unpinned model id (imported as is). Nothing written (--dry-run)."
                    )
                    raise _DryRun
                batch = importing.pairs_import(
                    rollout=rollout,
                    parsed=parsed,
                    actor="command",
                    source=ImportBatch.Source.COMMAND,
                    file_name=path.name,
                )
        except _DryRun:
            return
        except importing.ImportRefused as exc:
            self._fail(exc.errors, exc.count, str(exc))
        except (DomainError, ValidationError) as exc:
            raise CommandError(_message(exc)) from None
        kind = "offline comparison" if rollout.is_offline else "rollout"
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {batch.pairs} pairs into {kind} {rollout.code}: {batch.flagged} "
                f"flagged, {batch.queued} queued for review, {batch.unpinned} with an unpinned "
                "model id (imported as is)."
            )
        )

    def _target(self, opts: dict[str, Any], *, file_name: str) -> Rollout:
        if opts["rollout"]:
            if opts["feature"] or opts["baseline_config"] or opts["candidate_config"]:
                raise CommandError("Give --rollout, or --feature with the two configs, not both.")
            rollout = _get(Rollout, code=opts["rollout"], what="rollout")
            return rollout
        if not (opts["feature"] and opts["baseline_config"] and opts["candidate_config"]):
            raise CommandError(
                "Give --rollout CODE, or --feature KEY --baseline-config CODE "
                "--candidate-config CODE for a new offline comparison."
            )
        return offline_comparison_create(
            feature=_get(Feature, key=opts["feature"], what="feature"),
            baseline=_get(ModelConfig, code=opts["baseline_config"], what="baseline config"),
            candidate=_get(ModelConfig, code=opts["candidate_config"], what="candidate config"),
            actor="command",
            name=opts["name"] or f"import of {file_name}",
        )

    def _fail(self, errors: list[importing.RecordError], count: int, head: str = "") -> None:
        for error in errors:
            self.stderr.write(str(error))
        if count > len(errors):
            self.stderr.write(f"... {count - len(errors)} more.")
        raise CommandError(head or f"Nothing imported: {count} problem(s); fix them and rerun.")


def _get(model: Any, *, what: str, **lookup: str) -> Any:
    try:
        return model.objects.get(**lookup)
    except (model.DoesNotExist, ValidationError, ValueError):
        value = next(iter(lookup.values()))
        raise CommandError(f"No {what} {value!r}.") from None


def _message(exc: DomainError | ValidationError) -> str:
    if isinstance(exc, ValidationError) and hasattr(exc, "message_dict"):
        return "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
