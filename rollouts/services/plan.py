"""The rollout state machine in one table: which action each status allows, and why the others
are refused. Views check it before calling a service, templates draw only what it allows.

    draft -> gate -> shadow -> canary (stages) -> completed
        \\-------\\------\\--> aborted      \\--> rolled_back (shadow or canary)

Services still re-check the status by compare-and-set: this table answers the page, the row
answers the race.
"""

from typing import Any

from django.utils import timezone

from evaluations.models import Gate
from evaluations.services.gates import latest_gate
from registry.models import Rollout
from registry.roles import Role, has_role
from rollouts.services.rollouts import _shadow_refusal, gate_rerun_refusal

STATUS = Rollout.Status

# action -> statuses it may start from
ACTIONS: dict[str, tuple[str, ...]] = {
    "gate": (STATUS.DRAFT, STATUS.GATE),
    "acknowledge": (STATUS.GATE,),
    "candidate": (STATUS.DRAFT, STATUS.GATE),
    "judge": Rollout.REVIEWING,
    "shadow": (STATUS.GATE,),
    "plan": (STATUS.SHADOW, STATUS.CANARY),
    "promote": (STATUS.SHADOW, STATUS.CANARY),
    "pause": (STATUS.SHADOW, STATUS.CANARY),
    "resume": (STATUS.SHADOW, STATUS.CANARY),
    "complete": (STATUS.CANARY,),
    "rollback": (STATUS.SHADOW, STATUS.CANARY),
    "abort": (STATUS.DRAFT, STATUS.GATE, STATUS.SHADOW),
    "revert": (STATUS.COMPLETED,),
}

# Why an action is refused from a status, when the generic sentence would not help.
_WHY: dict[tuple[str, str], str] = {
    ("rollback", STATUS.DRAFT): "Nothing runs on production traffic yet: abort instead.",
    ("rollback", STATUS.GATE): "Nothing runs on production traffic yet: abort instead.",
    ("abort", STATUS.CANARY): "The candidate serves users already: roll back instead.",
    ("promote", STATUS.DRAFT): "Run the eval gate and start shadow traffic first.",
    ("promote", STATUS.GATE): "Start shadow traffic once the gate has passed.",
    ("complete", STATUS.SHADOW): "Promote through the canary stages to 100% first.",
}


def action_refusal(rollout: Rollout, user: Any, action: str) -> str | None:
    """Why `user` may not take `action` on `rollout` now, in plain words; None if allowed."""
    if action not in ACTIONS:
        return f"There is no action '{action}'."
    if not has_role(user, Role.RELEASE_MANAGER):
        return "Only a release manager acts on rollouts."
    status = rollout.status
    if status not in ACTIONS[action]:
        return _WHY.get((action, status)) or (
            f"A rollout that is {rollout.get_status_display().lower()} cannot {_verb(action)}."
        )
    if action == "promote" and rollout.paused:
        return "The rollout is paused: resume it before promoting."
    if action == "complete" and rollout.paused:
        return "The rollout is paused: resume it before completing."
    if action == "complete" and rollout.candidate_bp < 10_000:
        return "A rollout completes from its 100% stage; promote it there first."
    if action == "promote" and rollout.candidate_bp >= 10_000:
        return "This is the last stage: complete the rollout instead."
    if action == "pause" and rollout.paused:
        return "The rollout is paused already."
    if action == "resume" and not rollout.paused:
        return "The rollout is not paused."
    if action == "revert":
        feature = rollout.feature
        if feature.served_config_id != rollout.candidate_id or not feature.previous_config_id:
            return "The feature serves another config now; revert from the feature's history."
        if feature.pinned_until is None or feature.pinned_until <= timezone.now():
            return "The previous config's pin has ended: start a rollout to move back to it."
    if action in ("shadow", "acknowledge") or (action == "gate" and status == STATUS.GATE):
        return _gate_refusal(rollout, action)
    return None


def _gate_refusal(rollout: Rollout, action: str) -> str | None:
    gate = latest_gate(rollout)
    if action == "shadow":
        return _shadow_refusal(rollout, gate)
    if action == "gate":
        return gate_rerun_refusal(rollout, gate)
    if gate is None or gate.candidate_id != rollout.candidate_id:
        return "There is no gate on this candidate to acknowledge."
    if gate.verdict != Gate.Verdict.NEEDS_ACK or gate.acknowledged:
        return "The gate does not wait for an acknowledgement."
    return None


def allowed_actions(rollout: Rollout, user: Any) -> list[str]:
    """Every action `user` may take on `rollout` now, in the order pages show them."""
    return [a for a in ACTIONS if action_refusal(rollout, user, a) is None]


def _verb(action: str) -> str:
    return {
        "gate": "run the eval gate",
        "acknowledge": "acknowledge a gate",
        "candidate": "change its candidate",
        "judge": "change its judge",
        "shadow": "start shadow traffic",
        "plan": "edit its stage plan",
        "promote": "be promoted",
        "pause": "be paused",
        "resume": "be resumed",
        "complete": "be completed",
        "rollback": "be rolled back",
        "abort": "be aborted",
        "revert": "revert to its previous config",
    }[action]
