"""The registry: providers, pinned model versions, immutable model configs, features."""

import re
import secrets
import string
import uuid
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from registry import egress, paramrules
from registry.pinning import FloatingAliasError, PinningContext, check_pinned

ENV_VAR_NAME = RegexValidator(
    r"^[A-Z_][A-Z0-9_]*$",
    "Use the name of an environment variable (capitals, digits and _), e.g. OPENAI_API_KEY; "
    "never the key itself.",
)


class Provider(models.Model):
    class ApiStyle(models.TextChoices):
        OPENAI_CHAT = "openai_chat", "OpenAI-compatible chat completions"
        ANTHROPIC_MESSAGES = "anthropic_messages", "Anthropic messages"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    api_style = models.CharField(max_length=32, choices=ApiStyle.choices)
    base_url = models.URLField(
        max_length=300, help_text="Root of the API, e.g. https://api.openai.com/v1"
    )
    # The key itself never touches the database: only the name of the env var that holds it.
    api_key_env = models.CharField(
        "API key env var", max_length=100, blank=True, validators=[ENV_VAR_NAME]
    )
    timeout = models.FloatField(
        "timeout (s)", default=60.0, validators=[MinValueValidator(0.1), MaxValueValidator(600)]
    )
    self_hosted = models.BooleanField(
        default=False,
        help_text="A server you run (vLLM, Ollama...): model names are arbitrary, so each version "
        "must record its weights revision.",
    )
    is_simulator = models.BooleanField(
        default=False, help_text="The built-in simulated provider (demo and tests only)."
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(api_style__in=["openai_chat", "anthropic_messages"]),
                name="rollouts_provider_api_style_known",
            ),
            models.CheckConstraint(
                condition=Q(base_url__startswith="http://") | Q(base_url__startswith="https://"),
                name="rollouts_provider_base_url_http",
            ),
            models.CheckConstraint(
                condition=Q(timeout__gt=0) & Q(timeout__lte=600),
                name="rollouts_provider_timeout_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # The egress policy (registry/egress.py): what the gateway and the workers would send,
        # and where, is checked here and again before every call.
        errors = {}
        if self.api_key_env and egress.ENV_NAME.fullmatch(self.api_key_env):
            problem = egress.key_env_problem(self.api_key_env)
            if problem:
                errors["api_key_env"] = problem
        if self.base_url.startswith(("http://", "https://")):
            problem = egress.url_problem(self.base_url)
            if problem:
                errors["base_url"] = problem
        if errors:
            raise ValidationError(errors)


class ModelVersion(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="versions")
    model_id = models.CharField(
        max_length=200, help_text="Exact, pinned provider model id, e.g. gpt-4o-2024-08-06"
    )
    display_name = models.CharField(max_length=200, blank=True)
    weights_revision = models.CharField(
        max_length=200,
        blank=True,
        help_text="Self-hosted only: the commit or sha256 digest of the served weights.",
    )
    released = models.DateField(null=True, blank=True)
    deprecates = models.DateField(
        "deprecation date", null=True, blank=True, help_text="When the provider retires it."
    )
    successor = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="predecessors"
    )
    # From the model catalog (registry/catalog.py) or typed in: USD per million tokens, so an
    # eval's cost budget and the canary's cost charts have prices to work from.
    input_price = models.DecimalField(
        "input price (USD / 1M tokens)", max_digits=12, decimal_places=4, null=True, blank=True
    )
    output_price = models.DecimalField(
        "output price (USD / 1M tokens)", max_digits=12, decimal_places=4, null=True, blank=True
    )
    context_window = models.PositiveIntegerField(null=True, blank=True)
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True)
    catalog_synced = models.DateTimeField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["provider__name", "model_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model_id"], name="rollouts_modelversion_unique_id"
            ),
            models.CheckConstraint(
                condition=Q(deprecates__isnull=True)
                | Q(released__isnull=True)
                | Q(deprecates__gte=F("released")),
                name="rollouts_modelversion_deprecates_after_release",
            ),
            models.CheckConstraint(
                condition=~Q(successor=F("id")), name="rollouts_modelversion_not_own_successor"
            ),
            models.CheckConstraint(
                condition=(Q(input_price__isnull=True) | Q(input_price__gte=0))
                & (Q(output_price__isnull=True) | Q(output_price__gte=0)),
                name="rollouts_modelversion_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.model_id

    @property
    def label(self) -> str:
        return self.display_name or self.model_id

    def clean(self) -> None:
        if self.provider_id is None or not self.model_id:
            return
        provider = self.provider
        ctx = PinningContext(
            api_style=provider.api_style,
            self_hosted=provider.self_hosted,
            weights_revision=self.weights_revision,
            base_url=provider.base_url,  # the host tells Azure, Bedrock, Vertex... apart
        )
        try:
            check_pinned(self.model_id.strip(), ctx)
        except FloatingAliasError as exc:
            raise ValidationError({exc.field: str(exc)}) from None
        if self.weights_revision and not provider.self_hosted:
            raise ValidationError(
                {"weights_revision": "Only self-hosted providers record a weights revision."}
            )

    def cost(self, *, prompt_tokens: int | None, completion_tokens: int | None) -> Decimal | None:
        """USD for one call, or None when a price or a token count is unknown (an unknown
        cost is never reported as free)."""
        if self.input_price is None or self.output_price is None:
            return None
        if prompt_tokens is None or completion_tokens is None:
            return None
        spent = self.input_price * prompt_tokens + self.output_price * completion_tokens
        return spent / Decimal(1_000_000)

    def deprecation_status(self, today) -> str:
        """ "" (fine), "warning" (within DEPRECATION_WARNING_DAYS) or "danger" (date passed)."""
        if self.deprecates is None:
            return ""
        days = (self.deprecates - today).days
        if days < 0:
            return "danger"
        return "warning" if days <= settings.DEPRECATION_WARNING_DAYS else ""


class ModelConfig(models.Model):
    """What actually runs. Once referenced (`locked`), its content never changes: a database
    trigger refuses it, so history that names a config names exactly what ran."""

    class ResponseFormat(models.TextChoices):
        TEXT = "text", "Text"
        JSON_OBJECT = "json_object", "JSON object"
        JSON_SCHEMA = "json_schema", "JSON schema"

    CONTENT_FIELDS = (
        "model_version",
        "system_prompt",
        "temperature",
        "max_tokens",
        "response_format",
        "json_schema",
    )

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, help_text="A short label, e.g. 'support v3 (4o)'")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="configs"
    )
    system_prompt = models.TextField(
        blank=True, help_text="System prompt template; {variables} are filled per request."
    )
    temperature = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(2.0)]
    )
    max_tokens = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(1_000_000)]
    )
    response_format = models.CharField(
        max_length=16, choices=ResponseFormat.choices, default=ResponseFormat.TEXT
    )
    json_schema = models.JSONField(null=True, blank=True)
    revision_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="revisions"
    )
    locked = models.BooleanField(default=False, editable=False)
    archived = models.BooleanField(default=False, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=Q(temperature__isnull=True)
                | (Q(temperature__gte=0) & Q(temperature__lte=2)),
                name="rollouts_modelconfig_temperature_range",
            ),
            models.CheckConstraint(
                condition=Q(max_tokens__isnull=True) | Q(max_tokens__gte=1),
                name="rollouts_modelconfig_max_tokens_positive",
            ),
            models.CheckConstraint(
                condition=Q(response_format__in=["text", "json_object", "json_schema"]),
                name="rollouts_modelconfig_response_format_known",
            ),
            models.CheckConstraint(
                condition=~Q(response_format="json_schema") | Q(json_schema__isnull=False),
                name="rollouts_modelconfig_schema_with_json_schema",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def variables(self) -> list[str]:
        """The {variables} named by the prompt template, in order of first use."""
        names: list[str] = []
        for _, field, _, _ in string.Formatter().parse(self.system_prompt):
            if field and field not in names:
                names.append(field)
        return names

    def clean(self) -> None:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(self.system_prompt) if f]
        except ValueError as exc:
            raise ValidationError(
                {
                    "system_prompt": f"The template does not parse ({exc}); write literal braces "
                    "as {{ and }}."
                }
            ) from None
        bad = [f for f in fields if not f.isidentifier()]
        if bad:
            raise ValidationError(
                {
                    "system_prompt": f"Template variable {{{bad[0]}}} is not a plain name; use "
                    "letters, digits and _ (e.g. {customer_name})."
                }
            )
        if self.response_format == self.ResponseFormat.JSON_SCHEMA and not self.json_schema:
            raise ValidationError({"json_schema": "Response format 'JSON schema' needs a schema."})
        if self.json_schema is not None:
            if not isinstance(self.json_schema, dict):
                raise ValidationError({"json_schema": "The schema must be a JSON object."})
            try:
                Draft202012Validator.check_schema(self.json_schema)
            except SchemaError as exc:
                raise ValidationError(
                    {"json_schema": f"Not a valid JSON schema: {exc.message}"}
                ) from None
        version = self.model_version if self.model_version_id else None
        if version is not None:
            # The model's own parameter rules (registry/paramrules.py): a config its model would
            # refuse fails every call it serves, so it is refused here, field by field.
            problems = paramrules.config_problems(
                model_id=version.model_id,
                api_style=version.provider.api_style,
                temperature=self.temperature,
            )
            if problems:
                raise ValidationError(problems)
        if version and version.deprecates and version.deprecates < date.today():
            successor = f" Use its successor '{version.successor}'." if version.successor else ""
            raise ValidationError(
                {"model_version": f"'{version}' was retired on {version.deprecates}.{successor}"}
            )

    def parameters(self) -> dict:
        params: dict = {}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        if self.response_format != self.ResponseFormat.TEXT:
            params["response_format"] = self.response_format
        return params


def _new_salt() -> str:
    return secrets.token_hex(8)


class Feature(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key = models.SlugField(
        max_length=64,
        unique=True,
        help_text="Stable id used by the application, e.g. support-reply",
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.CharField(max_length=200, blank=True, help_text="Team or person responsible")
    served_config = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    previous_config = models.ForeignKey(
        ModelConfig, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The previous config is the rollback target and may not be archived before this instant.
    pinned_until = models.DateTimeField(null=True, blank=True)
    # Privacy: applied to inputs and outputs before anything is stored (traffic/redaction.py).
    redact_emails = models.BooleanField(default=True)
    redact_phones = models.BooleanField(default=True)
    redact_cards = models.BooleanField(default=True)
    redact_custom = models.JSONField(
        default=list, blank=True, help_text="Extra regular expressions to redact, as a JSON list."
    )
    # Apps whose tool calls have side effects: the candidate's tool calls are recorded as text
    # and never executed (nothing in Rollout Desk executes tool calls in any case).
    # Canary approvals: with the two-person rule, whoever started a rollout cannot be the only
    # approver of its promotions.
    two_person_rule = models.BooleanField(
        default=False, help_text="The starter of a rollout cannot approve its promotions alone."
    )
    # Guardrail notifications (Slack-compatible JSON). The URL holds a secret token, so only the
    # name of the environment variable holding it is stored, as for provider API keys.
    webhook_url_env = models.CharField(
        "webhook URL variable",
        max_length=100,
        blank=True,
        help_text="Name of the environment variable holding the notification webhook URL.",
    )
    no_shadow_tool_calls = models.BooleanField(
        "no shadow of tool calls",
        default=False,
        help_text="The feature's tool calls have side effects: shadow answers that call tools "
        "are recorded, never executed.",
    )
    # Only short label-like outputs are flagged on similarity: free text is rewritten on every
    # upgrade, so there similarity only ranks the queue (comparisons/metrics.py).
    flag_similarity_below = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Flag short label-like answers (one line, up to 5 words) whose word "
        "similarity (0-1) is below this. Longer answers are ranked by similarity, not "
        "flagged.",
    )
    # Pairs whose candidate/baseline length (characters) falls outside these bounds are flagged
    # (comparisons/metrics.py, flag "length_ratio").
    flag_length_ratio_min = models.FloatField(
        "flag length ratio below",
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Flag shadow pairs whose candidate is shorter than this share of the baseline "
        "(0-1; 0.5 = half as long).",
    )
    flag_length_ratio_max = models.FloatField(
        "flag length ratio above",
        default=2.0,
        validators=[MinValueValidator(1.0)],
        help_text="Flag shadow pairs whose candidate is longer than this multiple of the "
        "baseline (at least 1; 2 = twice as long).",
    )
    # Assignment hashes (salt, unit key); a per-feature salt keeps features independent.
    salt = models.CharField(max_length=32, default=_new_salt, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(previous_config__isnull=True, pinned_until__isnull=True)
                | Q(previous_config__isnull=False, pinned_until__isnull=False),
                name="rollouts_feature_previous_is_pinned",
            ),
            models.CheckConstraint(
                condition=~Q(previous_config=F("served_config")),
                name="rollouts_feature_previous_differs",
            ),
            models.CheckConstraint(
                condition=Q(flag_length_ratio_min__gte=0, flag_length_ratio_min__lte=1)
                & Q(flag_length_ratio_max__gte=1),
                name="rollouts_feature_length_ratio_bounds",
            ),
        ]

    def __str__(self) -> str:
        return self.key

    def clean(self) -> None:
        if not isinstance(self.redact_custom, list) or not all(
            isinstance(p, str) for p in self.redact_custom
        ):
            raise ValidationError(
                {"redact_custom": 'Give a JSON list of regular expressions, e.g. ["ACME-\\d+"].'}
            )
        for pattern in self.redact_custom:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValidationError(
                    {"redact_custom": f"{pattern!r} is not a valid regular expression: {exc}."}
                ) from None
        problem = egress.webhook_env_problem(self.webhook_url_env)
        if problem:
            raise ValidationError({"webhook_url_env": problem})
