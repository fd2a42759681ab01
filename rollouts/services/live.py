"""What serves a feature now: the live split the dashboard, the feature list and the feature page
show ("95% sim-chat-2025-01-15 · 5% sim-chat-2025-10-01, stage 2 of 6").

Computed exactly as the router computes it (traffic/routing.py: the feature's served config takes
what the active rollout's candidate does not), so a page can never name the baseline alone while
the candidate serves traffic. Stage numbers count the canary stages of the plan (shadow is not
one of them: "shadow (0% served)")."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

from registry.models import Feature, ModelConfig, Rollout
from registry.models.serving import FULL
from rollouts.models import Stage

STATUS = Rollout.Status


@dataclass(frozen=True)
class Arm:
    """One config's share of the feature's traffic."""

    variant: str  # "baseline" or "candidate"
    config_name: str
    config_code: UUID
    model_id: str
    basis_points: int

    @property
    def percent(self) -> float:
        return self.basis_points / 100

    @property
    def percent_text(self) -> str:
        return f"{self.basis_points / 100:g}%"


@dataclass(frozen=True)
class Split:
    feature_key: str
    # The configs that serve users now, the larger share first.
    arms: tuple[Arm, ...]
    rollout: Rollout | None = None
    # The candidate when it runs without serving anyone (draft, gate, shadow).
    unserved: Arm | None = None
    # Canary stage n of m (1-based); None outside a canary or without a stage plan.
    stage_number: int | None = None
    stage_count: int | None = None
    paused: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def candidate_serves(self) -> bool:
        return any(a.variant == "candidate" and a.basis_points for a in self.arms)

    @property
    def phase(self) -> str:
        """ "" without an active rollout, else its status (draft, gate, shadow, canary)."""
        return self.rollout.status if self.rollout is not None else ""

    @property
    def stage_text(self) -> str:
        if self.phase == STATUS.SHADOW:
            return "shadow (0% served)"
        if self.phase in (STATUS.DRAFT, STATUS.GATE):
            return f"{self.rollout.get_status_display().lower()} (0% served)"  # type: ignore[union-attr]
        if self.stage_number and self.stage_count:
            return f"stage {self.stage_number} of {self.stage_count}"
        return ""

    @property
    def text(self) -> str:
        served = " · ".join(f"{a.percent_text} {a.model_id}" for a in self.arms)
        if self.unserved is not None:
            served += f" · {self.unserved.model_id} in {self.stage_text}"
        elif self.stage_text:
            served += f", {self.stage_text}"
        return served + (", paused" if self.paused else "")


def _arm(config: ModelConfig, variant: str, bp: int) -> Arm:
    return Arm(
        variant=variant,
        config_name=config.name,
        config_code=config.code,
        model_id=config.model_version.model_id,
        basis_points=bp,
    )


def _split(feature: Feature, rollout: Rollout | None, stages: list[Stage]) -> Split:
    if rollout is None:
        return Split(feature.key, (_arm(feature.served_config, "baseline", FULL),))
    bp = rollout.candidate_bp
    arms = [_arm(feature.served_config, "baseline", FULL - bp)]
    if bp:
        arms.append(_arm(rollout.candidate, "candidate", bp))
    arms = sorted((a for a in arms if a.basis_points), key=lambda a: -a.basis_points)
    canary = [s for s in stages if s.candidate_bp > 0]
    active = next((s for s in stages if s.status == Stage.Status.ACTIVE), None)
    number = canary.index(active) + 1 if active is not None and active in canary else None
    return Split(
        feature_key=feature.key,
        arms=tuple(arms),
        rollout=rollout,
        unserved=None if bp else _arm(rollout.candidate, "candidate", 0),
        stage_number=number if rollout.status == STATUS.CANARY else None,
        stage_count=len(canary) if number else None,
        paused=rollout.paused is not None,
    )


def live_splits(features: Iterable[Feature]) -> dict[str, Split]:
    """The live split of each feature, keyed by feature key, in three queries whatever the
    number of features (the feature list runs a fixed number of queries). The features must
    come with `served_config__model_version` (registry.selectors.features_with_configs)."""
    features = list(features)
    rollouts = {
        r.feature_id: r
        for r in Rollout.objects.filter(
            feature__in=[f.pk for f in features], status__in=Rollout.ACTIVE
        ).select_related("feature", "baseline__model_version", "candidate__model_version")
    }
    stages: dict[int, list[Stage]] = {}
    for stage in Stage.objects.filter(rollout__in=[r.pk for r in rollouts.values()]).order_by(
        "rollout", "position"
    ):
        stages.setdefault(stage.rollout_id, []).append(stage)
    return {
        f.key: _split(
            f, rollouts.get(f.pk), stages.get(rollouts[f.pk].pk, []) if f.pk in rollouts else []
        )
        for f in features
    }


def live_split(feature: Feature) -> Split:
    """What serves `feature` now, with percentages, model versions and the canary stage."""
    return live_splits([feature])[feature.key]
