"""A feature's history: its timeline of audit events with filters, and "which config served
request R" answered from the request log (and its shadow pair), not reconstructed."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import QuerySet
from django.http import QueryDict

from comparisons.models import ShadowPair
from registry.models import AuditEvent, Feature, ModelConfig, RequestLog
from registry.services.serving import Served, served_at

# The timeline's "kind" filter: the action families the product writes.
KINDS = {
    "rollout": "Rollouts (start, gate, shadow, promotion, rollback)",
    "gate": "Eval gates",
    "eval_": "Eval suites, cases and runs",
    "feature": "Feature changes (served config)",
    "label": "Review labels",
    "model_version": "Model versions",
}


@dataclass
class TimelineFilters:
    kind: str = ""
    actor: str = ""
    since: date | None = None
    until: date | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def as_query(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "actor": self.actor,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }


def _date(params: QueryDict, name: str, errors: dict[str, str]) -> date | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = f"{name}: '{raw}' is not a date; use YYYY-MM-DD, e.g. 2026-01-31."
        return None


def timeline_filters(params: QueryDict) -> TimelineFilters:
    """Read the filters from a query string; a bad value is reported by field and ignored."""
    errors: dict[str, str] = {}
    kind = params.get("kind", "").strip()
    if kind and kind not in KINDS:
        errors["kind"] = f"kind: '{kind}' is not one of {', '.join(KINDS)}."
        kind = ""
    since, until = _date(params, "since", errors), _date(params, "until", errors)
    if since and until and until < since:
        errors["until"] = "until: the end date is before the start date; swap them."
        until = None
    return TimelineFilters(
        kind=kind,
        actor=params.get("actor", "").strip()[:200],
        since=since,
        until=until,
        errors=errors,
    )


def feature_events(feature: Feature, filters: TimelineFilters) -> QuerySet[AuditEvent]:
    """The feature's events, newest first (index rollouts_audit_feature_idx), filtered."""
    events = AuditEvent.objects.filter(feature_key=feature.key).order_by("-id")
    if filters.kind:
        events = events.filter(action__startswith=filters.kind)
    if filters.actor:
        events = events.filter(actor_label=filters.actor)
    if filters.since:
        events = events.filter(created__gte=datetime.combine(filters.since, time(), tzinfo=UTC))
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time(), tzinfo=UTC)
        events = events.filter(created__lt=end)
    return events


@dataclass(frozen=True)
class RequestAnswer:
    request_id: str
    found: bool
    config: ModelConfig | None = None
    variant: str = ""
    started: datetime | None = None
    source: str = ""
    pair: ShadowPair | None = None
    # What the serving ledger says of that instant, as a cross-check.
    ledger: Served | None = None


def request_lookup(*, feature: Feature, request_id: str) -> RequestAnswer:
    """Which config served request `request_id` of `feature`, with its shadow pair if any. A
    purged log still answers through its pair, which keeps the request id and both configs."""
    request_id = request_id.strip()[:100]
    log = (
        RequestLog.objects.filter(feature=feature, request_id=request_id)
        .select_related("config__model_version")
        .first()
    )
    pairs = ShadowPair.objects.filter(rollout__feature=feature, request_key=request_id)
    pair = pairs.select_related(
        "baseline_config__model_version", "candidate_config__model_version"
    ).first()
    if log is not None:
        return RequestAnswer(
            request_id=request_id,
            found=True,
            config=log.config,
            variant=log.variant,
            started=log.started,
            source=log.get_source_display(),
            pair=pair,
            ledger=served_at(feature=feature, when=log.started),
        )
    if pair is not None:
        served = (
            pair.candidate_config if pair.served_variant == "candidate" else pair.baseline_config
        )
        return RequestAnswer(
            request_id=request_id,
            found=True,
            config=served,
            variant=pair.served_variant,
            started=pair.created,
            source="shadow pair (request log purged)",
            pair=pair,
        )
    return RequestAnswer(request_id=request_id, found=False)
