"""Writing suites and cases: validated at save time (a malformed regex or schema is refused
here, naming the field, never at run time) and audited in the same transaction.

Every path that makes a case calls these: the pages, the admin, the promptfoo and JSONL
imports, "add to suite" from a pair and the traffic sampler. The field checks themselves are in
evaluations/case_fields.py and evaluations/storable.py.
"""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from evaluations.case_fields import clean_case
from evaluations.models import Case, Dimension, Suite
from evaluations.storable import refuse_unstorable
from registry.errors import DomainError
from registry.models import Feature, ModelConfig
from registry.services.audit import audit_record, snapshot


def _feature_key(suite: Suite) -> str:
    return Feature.objects.filter(pk=suite.feature_id).values_list("key", flat=True).first() or ""


def _audit_case(
    case: Case, *, actor: Any, action: str, before: dict[str, Any] | None, deleted: bool = False
) -> None:
    audit_record(
        actor=actor,
        action=f"eval_case.{action}",
        obj=case,
        before=before,
        after=None if deleted else snapshot(case),
        feature_key=_feature_key(case.suite),
    )


@transaction.atomic
def case_create(
    *,
    suite: Suite,
    actor: Any,
    name: str,
    messages: list[dict[str, Any]] | None = None,
    variables: Mapping[str, Any] | None = None,
    prompt: str = "",
    reference: str = "",
    assertions: list[dict[str, Any]] | None = None,
    dimension: str = Dimension.OTHER,
    critical: bool = False,
    weight: float = 1.0,
    threshold: float | None = None,
    draft: bool = False,
    source: str = Case.Source.MANUAL,
    source_ref: str = "",
) -> Case:
    fields = clean_case(
        {
            "name": name,
            "messages": messages,
            "variables": dict(variables) if variables is not None else None,
            "prompt": prompt or "",
            "reference": reference or "",
            "assertions": assertions,
            "dimension": dimension,
            "weight": weight,
            "threshold": threshold,
            "source": source,
        },
        suite=suite,
    )
    last = Case.objects.filter(suite=suite).aggregate(last=Max("position"))["last"]
    case = Case.objects.create(
        suite=suite,
        critical=bool(critical),
        draft=bool(draft),
        source_ref=(source_ref or "")[:300],
        position=(last or 0) + 1,
        **fields,
    )
    _audit_case(case, actor=actor, action="create", before=None)
    return case


CASE_FIELDS = (
    "name",
    "messages",
    "variables",
    "prompt",
    "reference",
    "assertions",
    "dimension",
    "critical",
    "weight",
    "threshold",
    "draft",
)


@transaction.atomic
def case_update(*, case: Case, actor: Any, **changes: Any) -> Case:
    """Change some of CASE_FIELDS; unknown names are a programming error."""
    unknown = set(changes) - set(CASE_FIELDS)
    if unknown:
        raise TypeError(f"case_update() got unknown fields {sorted(unknown)}")
    case = Case.objects.select_for_update().get(pk=case.pk)
    before = snapshot(case)
    current = {name: getattr(case, name) for name in CASE_FIELDS}
    current["source"] = case.source
    merged = clean_case({**current, **changes}, suite=case.suite)
    for name in CASE_FIELDS:
        setattr(case, name, merged[name])
    case.prompt = case.prompt or ""
    case.reference = case.reference or ""
    case.save()
    _audit_case(case, actor=actor, action="update", before=before)
    return case


@transaction.atomic
def case_publish(*, case: Case, actor: Any) -> Case:
    """A draft case (sampled or imported, not yet reviewed) starts running in gates."""
    before = snapshot(case)
    if not Case.objects.filter(pk=case.pk, draft=True).update(draft=False):
        raise DomainError(f"Case '{case.name}' is published already.")
    case.refresh_from_db()
    _audit_case(case, actor=actor, action="publish", before=before)
    return case


@transaction.atomic
def case_delete(*, case: Case, actor: Any) -> None:
    """Only a case that never ran: results point at their case (PROTECT), so a case with
    history stays and is moved to draft instead, out of future runs."""
    before = snapshot(case)
    if case.results.exists():
        raise DomainError(
            f"Case '{case.name}' has run results and stays as history; mark it draft to keep "
            "it out of future runs."
        )
    _audit_case(case, actor=actor, action="delete", before=before, deleted=True)
    case.delete()


SUITE_FIELDS = ("name", "description", "prompt", "threshold_pp", "judge_config", "active")


def _clean_suite(fields: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    fields["name"] = (fields.get("name") or "").strip()
    if not fields["name"]:
        errors["name"] = "Give the suite a name."
    try:
        fields["threshold_pp"] = float(fields["threshold_pp"])
        if not 0 <= fields["threshold_pp"] <= 100:
            raise ValueError
    except (TypeError, ValueError):
        errors["threshold_pp"] = "Give a threshold from 0 to 100 percentage points."
    for name, messages in refuse_unstorable(fields, ("name", "description", "prompt")).items():
        errors[name] = messages[0]
    judge = fields.get("judge_config")
    if judge is not None and not isinstance(judge, ModelConfig):
        errors["judge_config"] = "Pick a model config as the judge."
    elif judge is not None and judge.archived:
        errors["judge_config"] = f"Config '{judge}' is archived; pick an active judge config."
    if errors:
        raise ValidationError(errors)
    return fields


def _save_suite(suite: Suite) -> None:
    try:
        with transaction.atomic():
            suite.save()
    except IntegrityError:
        raise ValidationError(
            {"name": f"Feature '{suite.feature_id}' has a suite named '{suite.name}' already."}
        ) from None


@transaction.atomic
def suite_create(
    *,
    feature: Feature,
    actor: Any,
    name: str,
    description: str = "",
    prompt: str = "",
    threshold_pp: float = 5.0,
    judge_config: ModelConfig | None = None,
    active: bool = True,
) -> Suite:
    fields = _clean_suite(
        {
            "name": name,
            "description": description or "",
            "prompt": prompt or "",
            "threshold_pp": threshold_pp,
            "judge_config": judge_config,
            "active": bool(active),
        }
    )
    if Suite.objects.filter(feature=feature, name=fields["name"]).exists():
        raise ValidationError(
            {"name": f"Feature '{feature.key}' has a suite named '{fields['name']}' already."}
        )
    suite = Suite(
        feature=feature, created_by=actor if getattr(actor, "pk", None) else None, **fields
    )
    _save_suite(suite)
    audit_record(
        actor=actor,
        action="eval_suite.create",
        obj=suite,
        before=None,
        after=snapshot(suite),
        feature_key=feature.key,
    )
    return suite


@transaction.atomic
def suite_update(*, suite: Suite, actor: Any, **changes: Any) -> Suite:
    unknown = set(changes) - set(SUITE_FIELDS)
    if unknown:
        raise TypeError(f"suite_update() got unknown fields {sorted(unknown)}")
    suite = Suite.objects.select_for_update().select_related("feature").get(pk=suite.pk)
    before = snapshot(suite)
    merged = _clean_suite({**{name: getattr(suite, name) for name in SUITE_FIELDS}, **changes})
    for name in SUITE_FIELDS:
        setattr(suite, name, merged[name])
    _save_suite(suite)
    audit_record(
        actor=actor,
        action="eval_suite.update",
        obj=suite,
        before=before,
        after=snapshot(suite),
        feature_key=suite.feature.key,
    )
    return suite
