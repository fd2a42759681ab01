"""Importing a suite: `import_plan` says what would be created (nothing is written), and
`import_apply` creates exactly that, all together or not at all.

The page stages the plan between the two (signed, in the session); the command applies at once.
"""

import posixpath
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from evaluations.importers.files import Uploads
from evaluations.importers.jsonl import plan_jsonl
from evaluations.importers.plan import MAX_FILES, MAX_TOTAL_BYTES, ImportPlan
from evaluations.importers.promptfoo import plan_promptfoo
from evaluations.models import Case, Suite
from evaluations.services.suites import case_create, suite_create
from registry.errors import DomainError
from registry.models import Feature
from registry.services.audit import audit_record, snapshot

CONFIG_NAMES = ("promptfooconfig.yaml", "promptfooconfig.yml", "promptfooconfig.json")
_CONFIG_EXT = (".yaml", ".yml", ".json")


class ImportRefused(DomainError):
    """Nothing was imported; the plan's problems say what to fix."""


def _pick_main(uploads: Uploads, main: str | None, plan: ImportPlan) -> str | None:
    names = uploads.names()
    if main:
        found = uploads.find(main, base="")
        if found is None:
            plan.problem("main", f"'{main}' is not one of the uploaded files ({', '.join(names)})")
        return found
    if len(names) == 1:
        return names[0]
    configs = [n for n in names if posixpath.basename(n).lower() in CONFIG_NAMES]
    if len(configs) == 1:
        return configs[0]
    plan.problem(
        "main",
        "several files were uploaded; choose the main config (or JSONL file) among "
        f"{', '.join(names)}",
    )
    return None


def import_plan(
    *, feature: Feature, files: dict[str, bytes], main: str | None, actor: Any
) -> ImportPlan:
    """What importing these files into `feature` would create, with every problem (blocks) and
    warning (reported; the rest is imported). Reads the registry; writes nothing."""
    plan = ImportPlan(feature_key=feature.key, source=Case.Source.PROMPTFOO, main=main or "")
    total = sum(len(data) for data in files.values())
    if not files:
        plan.problem(
            "files", "upload the promptfoo config (and the files it refers to), or a JSONL file"
        )
    elif len(files) > MAX_FILES:
        plan.problem("files", f"{len(files)} files uploaded; at most {MAX_FILES} per import")
    elif total > MAX_TOTAL_BYTES:
        plan.problem(
            "files",
            f"{total} bytes uploaded; at most {MAX_TOTAL_BYTES // (1024 * 1024)} MB per import",
        )
    if plan.problem_count:
        return plan
    uploads = Uploads(dict(files))
    plan.files = uploads.names()
    chosen = _pick_main(uploads, main, plan)
    if chosen is None:
        return plan
    plan.main = chosen
    if chosen.lower().endswith((".jsonl", ".ndjson")):
        plan.source = Case.Source.JSONL
        plan_jsonl(plan, uploads, chosen)
    elif chosen.lower().endswith(_CONFIG_EXT):
        plan_promptfoo(plan, uploads, chosen)
    else:
        plan.problem(
            "main", f"'{chosen}' is neither a promptfoo config (.yaml, .json) nor a .jsonl file"
        )
        return plan
    if Suite.objects.filter(feature=feature, name=plan.suite_name).exists():
        plan.problem(
            "suite",
            f"feature '{feature.key}' already has a suite named '{plan.suite_name}': it was "
            "imported already, or change the config's description (or the file name) to import "
            "it as another suite",
        )
    if not plan.cases and not plan.problem_count:
        plan.problem(plan.main, "holds no tests to import")
    return plan


@transaction.atomic
def import_apply(*, plan: ImportPlan, actor: Any) -> Suite:
    """Create the plan's suite and cases, validated like every case (services/suites.py) and
    audited, in one transaction: a refusal anywhere leaves nothing behind."""
    if plan.problem_count or not plan.cases:
        raise ImportRefused(
            f"Nothing imported: the import has {plan.problem_count or 'no cases and'} problem(s); "
            "fix them and preview again."
        )
    feature = Feature.objects.filter(key=plan.feature_key).first()
    if feature is None:
        raise ImportRefused(f"Feature '{plan.feature_key}' no longer exists; nothing imported.")
    try:
        suite = suite_create(
            feature=feature,
            actor=actor,
            name=plan.suite_name,
            description=plan.suite_description,
            prompt=plan.suite_prompt,
        )
        for index, case in enumerate(plan.cases):
            try:
                case_create(
                    suite=suite,
                    actor=actor,
                    name=case.name,
                    messages=case.messages,
                    variables=case.variables,
                    prompt=case.prompt,
                    reference=case.reference,
                    assertions=case.assertions,
                    dimension=case.dimension,
                    critical=case.critical,
                    weight=case.weight,
                    threshold=case.threshold,
                    source=plan.source,
                    source_ref=case.source_ref,
                )
            except ValidationError as exc:
                raise ImportRefused(
                    f"Nothing imported: case {index + 1} ('{case.name}', {case.source_ref}) was "
                    f"refused: {'; '.join(f'{k}: {v[0]}' for k, v in exc.message_dict.items())}"
                ) from None
    except ValidationError as exc:
        # The suite's name was taken since the preview: imported already (a second confirm).
        messages = "; ".join(m for ms in exc.message_dict.values() for m in ms)
        raise ImportRefused(f"Nothing imported: {messages}") from None
    audit_record(
        actor=actor,
        action="eval_suite.import",
        obj=suite,
        before=None,
        after={
            **snapshot(suite),
            "source": plan.source,
            "files": plan.files,
            "cases": len(plan.cases),
            "warnings": [str(w) for w in plan.warnings][:50],
        },
        reason=plan.main,
        feature_key=feature.key,
    )
    return suite
