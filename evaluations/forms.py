"""Forms of the Evaluations pages. They parse what a person typed (JSON text areas, numbers);
the rules live in evaluations/services/suites.py, whose errors come back onto the fields."""

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from evaluations.models import Case, Dimension, Suite
from evaluations.services.runs import MAX_TRIALS
from registry.models import Feature, ModelConfig

T = TypeVar("T")

# django-stubs' generic field; Django's class is not subscriptable at run time.
if TYPE_CHECKING:
    ConfigChoiceBase = forms.ModelChoiceField[ModelConfig]
else:
    ConfigChoiceBase = forms.ModelChoiceField


class ConfigChoice(ConfigChoiceBase):
    def label_from_instance(self, obj: ModelConfig) -> str:
        return f"{obj.name} · {obj.model_version.model_id}"


def _configs() -> QuerySet[ModelConfig]:
    return (
        ModelConfig.objects.filter(archived=False).select_related("model_version").order_by("name")
    )


def field_of(key: str) -> str:
    """The form field a service error belongs to: `assertions[1].value` -> `assertions`."""
    return key.split("[", 1)[0].split(".", 1)[0]


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the fields it names, keeping the precise path
    (`assertions[1].value: ...`) in the message so the person knows which entry to fix."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for key, messages in exc.message_dict.items():
        field = field_of(key)
        for message in messages:
            if field in form.fields:
                form.add_error(field, message if key == field else f"{key}: {message}")
            else:
                form.add_error(None, f"{key}: {message}")


def save_or_errors(form: forms.Form, save: Callable[[], T]) -> T | None:
    """What `save` (a service call) returns, or None with its ValidationError put on the
    form's fields, so the page shows the form again with every error where it belongs."""
    try:
        return save()
    except ValidationError as exc:
        add_service_errors(form, exc)
        return None


def _json_field(label: str, help_text: str, rows: int = 6) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows, "class": "code", "spellcheck": "false"}),
    )


def _parse_json(form: forms.Form, name: str, empty: Any) -> Any:
    text = (form.cleaned_data.get(name) or "").strip()
    if not text:
        return empty
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"Not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}."
        ) from None


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) if value else ""


class SuiteForm(forms.Form):
    feature = forms.ModelChoiceField(
        Feature.objects.order_by("key"), to_field_name="key", required=False
    )
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    prompt = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="User message of cases that give variables: '{ticket}' or '{{ ticket }}'.",
    )
    threshold_pp = forms.FloatField(
        label="Acknowledgement threshold (percentage points)",
        min_value=0,
        max_value=100,
        initial=5.0,
        help_text="A non-critical dimension dropping by more than this needs a written note.",
    )
    judge_config = ConfigChoice(
        _configs(),
        required=False,
        empty_label="no judge (llm-rubric assertions cannot run)",
        help_text="The pinned config that grades llm-rubric assertions.",
    )
    active = forms.BooleanField(
        required=False, initial=True, help_text="Inactive suites are not gated on."
    )

    def __init__(self, *args: Any, suite: Suite | None = None, **kwargs: Any) -> None:
        if suite is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": suite.name,
                    "description": suite.description,
                    "prompt": suite.prompt,
                    "threshold_pp": suite.threshold_pp,
                    "judge_config": suite.judge_config_id,
                    "active": suite.active,
                },
            )
        super().__init__(*args, **kwargs)
        if suite is not None:
            del self.fields["feature"]  # a suite stays with its feature
        else:
            self.fields["feature"].required = True

    def suite_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            name: data[name]
            for name in ("name", "description", "prompt", "threshold_pp", "judge_config", "active")
        }


class CaseForm(forms.Form):
    name = forms.CharField(max_length=300)
    messages = _json_field(
        "Messages",
        'A JSON list: [{"role": "user", "content": "Where is my parcel?"}]. Leave empty to use '
        "variables with a prompt template.",
    )
    variables = _json_field(
        "Variables", 'A JSON object for the prompt template: {"ticket": "..."}.', rows=3
    )
    prompt = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="This case's prompt template; empty uses the suite's.",
    )
    reference = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The expected or preferred output (for similar, levenshtein, llm-rubric).",
    )
    dimension = forms.ChoiceField(choices=Dimension.choices, initial=Dimension.OTHER)
    critical = forms.BooleanField(
        required=False, help_text="Passing on baseline and failing on the candidate blocks."
    )
    weight = forms.FloatField(min_value=0, initial=1.0)
    threshold = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        help_text="Weighted assertion score that passes the case; empty: every assertion must.",
    )
    draft = forms.BooleanField(required=False, help_text="Draft cases never run in a gate.")
    assertions = _json_field(
        "Assertions",
        'A JSON list, promptfoo-style: [{"type": "icontains", "value": "refund"}, '
        '{"type": "regex", "value": "^Dear"}].',
        rows=8,
    )

    def __init__(self, *args: Any, case: Case | None = None, **kwargs: Any) -> None:
        if case is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": case.name,
                    "messages": pretty(case.messages),
                    "variables": pretty(case.variables),
                    "prompt": case.prompt,
                    "reference": case.reference,
                    "dimension": case.dimension,
                    "critical": case.critical,
                    "weight": case.weight,
                    "threshold": case.threshold,
                    "draft": case.draft,
                    "assertions": pretty(case.assertions),
                },
            )
        super().__init__(*args, **kwargs)

    def clean_messages(self) -> Any:
        return _parse_json(self, "messages", [])

    def clean_variables(self) -> Any:
        return _parse_json(self, "variables", {})

    def clean_assertions(self) -> Any:
        return _parse_json(self, "assertions", [])

    def case_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            name: data[name]
            for name in (
                "name",
                "messages",
                "variables",
                "prompt",
                "reference",
                "dimension",
                "critical",
                "weight",
                "threshold",
                "draft",
                "assertions",
            )
        }


class RunForm(forms.Form):
    config = ConfigChoice(
        _configs(), help_text="The config to run the suite on (it is locked once it has run)."
    )
    trials = forms.IntegerField(
        min_value=1,
        max_value=MAX_TRIALS,
        initial=1,
        help_text=f"Runs per case, 1 to {MAX_TRIALS}: more trials show flaky cases.",
    )
