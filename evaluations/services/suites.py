"""Writing suites and cases: validated at save time (a malformed regex or schema is refused
here, naming the field, never at run time) and audited in the same transaction.

Every path that makes a case calls these: the pages, the admin, the promptfoo and JSONL
imports, "add to suite" from a pair and the traffic sampler.
"""

import math
import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from evaluations.assertions import clean_assertions
from evaluations.models import Case, Dimension, Suite
from registry.errors import DomainError
from registry.models import Feature, ModelConfig
from registry.services.audit import audit_record, snapshot

# The roles a provider accepts in a conversation (traffic/ingest.py's schema).
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
# A weight above this makes the gate's weighted sums overflow to infinity (then NaN).
MAX_WEIGHT = 1_000_000.0
# Valid JSON ("\\u0000", "\\ud800") but unstorable: PostgreSQL refuses a NUL byte in text and
# jsonb, and no database encodes a lone UTF-16 surrogate; refused here, naming the field,
# rather than a 500 from the database.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(value: object, path: str) -> str | None:
    """The path of the first string (or key) in `value` holding a NUL or a lone surrogate, or
    of a NaN / infinite number (Python's JSON reads `NaN`; a JSON column refuses it)."""
    if isinstance(value, str):
        return path if _UNSTORABLE.search(value) else None
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if isinstance(key, str) else path
            if isinstance(key, str) and _UNSTORABLE.search(key):
                return path
            found = unstorable_text(item, where)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_text(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _refuse_unstorable(fields: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in names:
        where = unstorable_text(fields.get(name), name)
        if where:
            # The key is the field itself, so a form puts it there; the path says which entry.
            errors[name] = [
                f"{where}: text may not contain NUL bytes (\\u0000) or lone surrogates "
                "(\\ud800-\\udfff), nor numbers NaN or Infinity; remove them."
            ]
    return errors


def clean_messages(raw: object, *, field: str = "messages") -> list[dict]:
    """A list of {role, content} with known roles; errors name the entry (`messages[1].role`)."""
    if raw is None or raw == "":
        return []
    if not isinstance(raw, list):
        raise ValidationError(
            {field: 'Give a JSON list of messages, e.g. [{"role": "user", "content": "Hi"}].'}
        )
    cleaned: list[dict] = []
    for index, message in enumerate(raw):
        where = f"{field}[{index}]"
        if not isinstance(message, dict):
            raise ValidationError(
                {where: 'Each message is an object {"role": ..., "content": ...}.'}
            )
        role = message.get("role")
        if role not in ROLES:
            raise ValidationError(
                {f"{where}.role": f"Unknown role {role!r}; use one of {', '.join(sorted(ROLES))}."}
            )
        content = message.get("content")
        if not isinstance(content, str) and not (role == "assistant" and message.get("tool_calls")):
            raise ValidationError({f"{where}.content": "Give the message's text as a string."})
        cleaned.append(dict(message))
    return cleaned


def clean_variables(raw: object, *, field: str = "variables") -> dict:
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, dict):
        raise ValidationError({field: 'Give a JSON object of variables, e.g. {"ticket": "..."}.'})
    bad = [key for key in raw if not isinstance(key, str) or not key.isidentifier()]
    if bad:
        raise ValidationError(
            {field: f"Variable names are identifiers (letters, digits, _): {bad[0]!r} is not."}
        )
    return dict(raw)


def clean_assertions_of(raw: object) -> list[dict]:
    return clean_assertions(raw if raw is not None else [])


def _clean_case(fields: dict[str, Any], *, suite: Suite) -> dict[str, Any]:
    """Every field of a case checked together, so a form shows all errors at once."""
    errors: dict[str, list[str]] = {}

    def attempt(key: str, clean) -> None:
        try:
            fields[key] = clean(fields[key])
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(name, []).extend(messages)

    fields["name"] = (fields["name"] or "").strip()
    if not fields["name"]:
        errors["name"] = ["Give the case a name."]
    unstorable = _refuse_unstorable(
        fields, ("name", "messages", "variables", "prompt", "reference", "assertions")
    )
    errors.update(unstorable)
    for key, clean in (
        ("messages", clean_messages),
        ("variables", clean_variables),
        ("assertions", clean_assertions_of),
    ):
        if key in unstorable:
            fields[key] = [] if key != "variables" else {}  # nothing more to say of its shape
        else:
            attempt(key, clean)
    nothing_to_send = not (fields["messages"] or fields["variables"] or fields.get("prompt"))
    if nothing_to_send and not suite.prompt and "messages" not in errors:
        errors["messages"] = [
            "Give the case messages, or variables for a prompt template (the case's or the "
            "suite's); it has nothing to send."
        ]
    if fields["dimension"] not in Dimension.values:
        errors["dimension"] = [f"Pick one of {', '.join(Dimension.values)}."]
    try:
        fields["weight"] = float(fields["weight"])
        # NaN compares false with everything, so it is refused by name, not by `< 0`.
        if not math.isfinite(fields["weight"]) or not 0 <= fields["weight"] <= MAX_WEIGHT:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        errors["weight"] = [f"Give a weight from 0 to {MAX_WEIGHT:,.0f}."]
    threshold = fields["threshold"]
    if threshold is not None:
        try:
            fields["threshold"] = float(threshold)
            if not 0 <= fields["threshold"] <= 1:
                raise ValueError
        except (TypeError, ValueError):
            errors["threshold"] = ["Give a threshold from 0 to 1, or leave it empty."]
    if fields["source"] not in Case.Source.values:
        errors["source"] = [f"Pick one of {', '.join(Case.Source.values)}."]
    if errors:
        raise ValidationError(errors)
    return fields


def _feature_key(suite: Suite) -> str:
    return Feature.objects.filter(pk=suite.feature_id).values_list("key", flat=True).first() or ""


@transaction.atomic
def case_create(
    *,
    suite: Suite,
    actor,
    name: str,
    messages: list[dict] | None = None,
    variables: Mapping[str, Any] | None = None,
    prompt: str = "",
    reference: str = "",
    assertions: list[dict] | None = None,
    dimension: str = Dimension.OTHER,
    critical: bool = False,
    weight: float = 1.0,
    threshold: float | None = None,
    draft: bool = False,
    source: str = Case.Source.MANUAL,
    source_ref: str = "",
) -> Case:
    fields = _clean_case(
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
    audit_record(
        actor=actor,
        action="eval_case.create",
        obj=case,
        before=None,
        after=snapshot(case),
        feature_key=_feature_key(suite),
    )
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
def case_update(*, case: Case, actor, **changes: Any) -> Case:
    """Change some of CASE_FIELDS; unknown names are a programming error."""
    unknown = set(changes) - set(CASE_FIELDS)
    if unknown:
        raise TypeError(f"case_update() got unknown fields {sorted(unknown)}")
    case = Case.objects.select_for_update().get(pk=case.pk)
    before = snapshot(case)
    current = {name: getattr(case, name) for name in CASE_FIELDS}
    current["source"] = case.source
    merged = _clean_case({**current, **changes}, suite=case.suite)
    for name in CASE_FIELDS:
        setattr(case, name, merged[name])
    case.prompt = case.prompt or ""
    case.reference = case.reference or ""
    case.save()
    audit_record(
        actor=actor,
        action="eval_case.update",
        obj=case,
        before=before,
        after=snapshot(case),
        feature_key=_feature_key(case.suite),
    )
    return case


@transaction.atomic
def case_publish(*, case: Case, actor) -> Case:
    """A draft case (sampled or imported, not yet reviewed) starts running in gates."""
    before = snapshot(case)
    if not Case.objects.filter(pk=case.pk, draft=True).update(draft=False):
        raise DomainError(f"Case '{case.name}' is published already.")
    case.refresh_from_db()
    audit_record(
        actor=actor,
        action="eval_case.publish",
        obj=case,
        before=before,
        after=snapshot(case),
        feature_key=_feature_key(case.suite),
    )
    return case


@transaction.atomic
def case_delete(*, case: Case, actor) -> None:
    """Only a case that never ran: results point at their case (PROTECT), so a case with
    history stays and is moved to draft instead, out of future runs."""
    before = snapshot(case)
    if case.results.exists():
        raise DomainError(
            f"Case '{case.name}' has run results and stays as history; mark it draft to keep "
            "it out of future runs."
        )
    audit_record(
        actor=actor,
        action="eval_case.delete",
        obj=case,
        before=before,
        after=None,
        feature_key=_feature_key(case.suite),
    )
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
    for name, messages in _refuse_unstorable(fields, ("name", "description", "prompt")).items():
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
    actor,
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
def suite_update(*, suite: Suite, actor, **changes: Any) -> Suite:
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
