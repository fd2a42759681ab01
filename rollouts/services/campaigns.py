"""Upgrade campaigns: one model version replaced across every feature it serves, a rollout per
feature (each with its own candidate config, so prompts can differ), all gates started together,
and a readiness matrix so each feature proceeds on its own timeline towards one deadline.

A candidate on the new model copies the feature's served config (prompt, parameters) and
changes only the model version. When the new model's family refuses a parameter the served
config sets (a temperature on an OpenAI reasoning model, above 1 on Anthropic), the candidate is
created WITHOUT it and the member's `problem` says so; its rollout and gate still start, because
the gate is exactly where "does it still behave without that parameter" is answered. Refusing the
member instead would leave the feature without an upgrade path before its model retires.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from registry import paramrules
from registry.errors import DomainError
from registry.models import Feature, ModelConfig, ModelVersion, Rollout
from registry.services.audit import audit_record, db_now, snapshot
from registry.services.registry import config_create
from rollouts.models import Campaign, CampaignMember
from rollouts.services import readiness
from rollouts.services import rollouts as rollout_services
from rollouts.services.readiness import Cell

# Parameters a candidate may lose to the new family's rules (the rest never differ by family).
DROPPABLE = ("temperature",)


def _candidate_for(
    feature: Feature, to_version: ModelVersion, actor: Any
) -> tuple[ModelConfig, str]:
    """A new config: the served one with `to_version`, minus what the new family refuses.
    Returns the saved config and a note of what was dropped ("" when nothing)."""
    served = feature.served_config
    content = {name: getattr(served, name) for name in ModelConfig.CONTENT_FIELDS}
    content["model_version"] = to_version
    refused = paramrules.config_problems(
        model_id=to_version.model_id,
        api_style=to_version.provider.api_style,
        temperature=content["temperature"],
    )
    notes = []
    for name, why in refused.items():
        if name in DROPPABLE:
            notes.append(f"{name} {content[name]} left out: {why}")
            content[name] = None
    name = f"{served.name} → {to_version.model_id}"[:200]
    config = config_create(
        config=ModelConfig(name=name, **content),
        actor=actor,
        reason=f"Campaign candidate for '{feature.key}'",
    )
    return config, "; ".join(notes)


def _validate(from_version: ModelVersion, to_version: ModelVersion, today: date) -> None:
    if from_version.pk == to_version.pk:
        raise ValidationError({"to_version": "Pick a different model version to move to."})
    if to_version.deprecates and to_version.deprecates < today:
        retired = f"'{to_version}' was retired on {to_version.deprecates}; pick a live version."
        raise ValidationError({"to_version": retired})


@transaction.atomic
def campaign_create(
    *,
    from_version: ModelVersion,
    to_version: ModelVersion,
    actor: Any,
    name: str = "",
    deadline: date | None = None,
    stale_days: int | None = None,
    note: str = "",
    start_gates: bool = True,
) -> Campaign:
    """1. Validate the versions; find every feature whose served config runs `from_version`.
    2. Per feature: a candidate config on `to_version`, and a member. A feature with an active
       rollout gets a member with the problem and no new rollout (two would fight over traffic).
    3. Otherwise a rollout, and its gate (each gate start in a savepoint: a feature without an
       eval suite records why and stays a draft; the others' gates still start)."""
    now = db_now()
    _validate(from_version, to_version, now.date())
    if deadline is not None and deadline < now.date():
        raise ValidationError({"deadline": "The deadline has passed; give a date from today on."})
    features = list(
        Feature.objects.filter(served_config__model_version=from_version)
        .select_related("served_config")
        .order_by("key")
    )
    if not features:
        raise ValidationError(
            {"from_version": f"No feature is served by '{from_version}'; nothing to upgrade."}
        )
    campaign = Campaign(
        name=(name.strip() or f"{from_version.model_id} → {to_version.model_id}")[:200],
        from_version=from_version,
        to_version=to_version,
        deadline=deadline,
        stale_days=stale_days if stale_days is not None else settings.CAMPAIGN_STALE_DAYS,
        note=note,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    campaign.full_clean(exclude=["created_by"])  # None: started by the system
    campaign.save()
    for feature in features:
        _add_member(campaign, feature, actor=actor, start_gate=start_gates)
    audit_record(
        actor=actor,
        action="campaign.create",
        obj=campaign,
        before=None,
        after={**snapshot(campaign), "features": [f.key for f in features]},
        reason=note,
    )
    return campaign


def _add_member(campaign: Campaign, feature: Feature, *, actor: Any, start_gate: bool) -> None:
    candidate, problem = _candidate_for(feature, campaign.to_version, actor)
    active = (
        Rollout.objects.filter(feature=feature, status__in=Rollout.ACTIVE)
        .select_related("candidate")
        .first()
    )
    if active is not None:
        CampaignMember.objects.create(
            campaign=campaign,
            feature=feature,
            candidate=candidate,
            problem=f"already has an active rollout to '{active.candidate}'; finish or abort it, "
            "then start this feature's rollout with the campaign's candidate config",
        )
        return
    rollout = rollout_services.rollout_create(
        feature=feature, candidate=candidate, actor=actor, note=f"Campaign '{campaign.name}'"
    )
    if start_gate:
        try:
            with transaction.atomic():
                rollout_services.rollout_start_gate(rollout=rollout, actor=actor)
        except (DomainError, ValidationError) as exc:
            why = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            problem = "; ".join(p for p in (problem, f"gate not started: {why}") if p)
        rollout.refresh_from_db()
    CampaignMember.objects.create(
        campaign=campaign, feature=feature, candidate=candidate, rollout=rollout, problem=problem
    )


# --- the readiness matrix ------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    member: CampaignMember
    feature: Feature
    rollout: Rollout | None
    gate: Cell
    review: Cell
    shadow: Cell
    canary: Cell
    last_movement: datetime | None
    stalled: bool
    days_to_deadline: int | None


def campaign_days_left(campaign: Campaign, today: date) -> int | None:
    return (campaign.deadline - today).days if campaign.deadline else None


def campaign_matrix(campaign: Campaign, *, now: datetime | None = None) -> list[Row]:
    """One row per feature: gate, review, shadow and canary cells (rollouts/services/readiness.py),
    the rollout's last movement, whether it stalled (active, no movement for the campaign's
    stale_days) and the days to the deadline. A fixed number of queries plus one review read
    per rollout. `now` is the app's clock (a reading, compared in days)."""
    now = now or timezone.now()
    members = list(
        campaign.members.select_related("feature", "candidate__model_version", "rollout").order_by(
            "feature__key"
        )
    )
    found = readiness.evidence([m.rollout for m in members if m.rollout is not None])
    days_left = campaign_days_left(campaign, now.date())
    stale = timedelta(days=campaign.stale_days)
    rows = []
    for member in members:
        rollout = member.rollout
        if rollout is None:
            rows.append(
                Row(
                    member=member,
                    feature=member.feature,
                    rollout=None,
                    gate=Cell("bad", "no rollout"),
                    review=readiness.NOT_REACHED,
                    shadow=readiness.NOT_REACHED,
                    canary=readiness.NOT_REACHED,
                    last_movement=None,
                    stalled=False,
                    days_to_deadline=days_left,
                )
            )
            continue
        evidence = found[rollout.pk]
        moved = evidence.last_movement
        rows.append(
            Row(
                member=member,
                feature=member.feature,
                rollout=rollout,
                gate=readiness.gate_cell(rollout, evidence.gate),
                review=readiness.review_cell(evidence.verdicts),
                shadow=readiness.shadow_cell(rollout, evidence.pairs),
                canary=readiness.canary_cell(rollout),
                last_movement=moved,
                stalled=rollout.is_active and moved is not None and now - moved > stale,
                days_to_deadline=days_left,
            )
        )
    return rows
