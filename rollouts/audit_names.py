"""The small name cache the audit's sentences read (rollouts/audit_text.py): what each id or
code in a page of events stands for, loaded in one query per kind of object, so a page of 50
events costs the same few queries as a page of 5 and the sentences stay pure functions."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Group, User
from django.db.models import Model, Q
from django.urls import reverse

from comparisons.models import ShadowPair
from evaluations.models import Gate, Run, Suite
from registry.models import AuditEvent, Feature, ModelConfig, ModelVersion, Provider, Rollout
from rollouts.models import Approval, Campaign, Guardrail, Stage

# Snapshot keys that hold a foreign key, and what they point to.
FK_KINDS = {
    "baseline": "config",
    "candidate": "config",
    "judge_config": "config",
    "served_config": "config",
    "previous_config": "config",
    "config": "config",
    "revision_of": "config",
    "baseline_config": "config",
    "candidate_config": "config",
    "shadow_config": "config",
    "judge": "config",
    "feature": "feature",
    "model_version": "version",
    "successor": "version",
    "from_version": "version",
    "to_version": "version",
    "provider": "provider",
    "created_by": "user",
    "acknowledged_by": "user",
    "cancelled_by": "user",
    "reviewer": "user",
    "adjudicator": "user",
    "approver": "user",
    "rollout": "rollout",
    "suite": "suite",
    "gate": "gate",
    "pair": "pair",
    "stage": "stage",
    "from_stage": "stage",
    "to_stage": "stage",
    "campaign": "campaign",
}
# The audited object's type (AuditEvent.object_type) and the kind of name it has.
OBJECT_KINDS = {
    "rollouts.rollout": "rollout",
    "rollouts.modelconfig": "config",
    "rollouts.feature": "feature",
    "rollouts.modelversion": "version",
    "rollouts.provider": "provider",
    "evaluations.gate": "gate",
    "evaluations.run": "run",
    "evaluations.suite": "suite",
    "rollout_control.campaign": "campaign",
    "comparisons.shadowpair": "pair",
    "auth.user": "user",
    "auth.group": "group",
    "rollout_control.approval": "approval",
    "rollout_control.guardrail": "guardrail",
}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Ref:
    """A name to show for an object, and the page it links to ("" when it has none)."""

    text: str
    url: str = ""


@dataclass(frozen=True)
class RolloutRef(Ref):
    feature: str = ""
    baseline: Ref = Ref("")
    candidate: Ref = Ref("")
    # The plan's canary shares in order (basis points), for "stage 2 of 6".
    canary_bps: tuple[int, ...] = ()


@dataclass(frozen=True)
class GateRef(Ref):
    rollout: str = ""  # the rollout's code, when the gate belongs to one


@dataclass(frozen=True)
class RunRef(Ref):
    suite: Ref = Ref("")
    config: Ref = Ref("")
    side: str = ""


@dataclass
class Names:
    """(kind, id or code as text) -> Ref. Missing entries: the object is gone or was never
    loaded; sentences then say what kind of object it was, never its id."""

    refs: dict[tuple[str, str], Ref] = field(default_factory=dict)

    def get(self, kind: str, key: Any) -> Ref | None:
        if key is None or key == "":
            return None
        return self.refs.get((kind, str(key)))

    def add(self, kind: str, keys: Iterable[Any], ref: Ref) -> None:
        for key in keys:
            if key is not None:
                self.refs[(kind, str(key))] = ref


def _wanted(events: Iterable[AuditEvent]) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = {}
    for event in events:
        kind = OBJECT_KINDS.get(event.object_type)
        if kind:
            wanted.setdefault(kind, set()).add(event.object_id)
        for data in (event.before, event.after):
            if not isinstance(data, dict):
                continue
            for key, value in data.items():
                if key in FK_KINDS and isinstance(value, int | str) and str(value):
                    wanted.setdefault(FK_KINDS[key], set()).add(str(value))
    return wanted


def _by_key(keys: set[str]) -> Q:
    """Match rows by integer id or by UUID code, whichever each key is."""
    ids = [int(k) for k in keys if k.isdigit()]
    codes = [k for k in keys if _UUID.match(k)]
    return Q(pk__in=ids) | Q(code__in=codes)


def _keys(obj: Model) -> tuple[Any, ...]:
    return (obj.pk, getattr(obj, "code", None))


def _config_ref(config: ModelConfig) -> Ref:
    return Ref(f"{config.name} ({config.model_version.model_id})", "")


def load_names(events: Iterable[AuditEvent]) -> Names:
    """The names of everything the events mention, one query per kind."""
    events = list(events)
    wanted = _wanted(events)
    names = Names()
    if keys := wanted.get("config"):
        for c in ModelConfig.objects.filter(_by_key(keys)).select_related("model_version"):
            names.add("config", _keys(c), _config_ref(c))
    if keys := wanted.get("feature"):
        slugs = [k for k in keys if not k.isdigit() and not _UUID.match(k)]
        for f in Feature.objects.filter(_by_key(keys) | Q(key__in=slugs)):
            names.add(
                "feature", (*_keys(f), f.key), Ref(f.key, reverse("feature_detail", args=[f.key]))
            )
    if keys := wanted.get("version"):
        for v in ModelVersion.objects.filter(_by_key(keys)):
            names.add("version", _keys(v), Ref(v.model_id))
    if keys := wanted.get("provider"):
        for p in Provider.objects.filter(_by_key(keys)):
            names.add("provider", _keys(p), Ref(p.name))
    if keys := wanted.get("user"):
        for u in User.objects.filter(pk__in=[int(k) for k in keys if k.isdigit()]):
            names.add("user", [u.pk], Ref(u.username))
    if keys := wanted.get("group"):
        for g in Group.objects.filter(pk__in=[int(k) for k in keys if k.isdigit()]):
            names.add("group", [g.pk], Ref(g.name))
    if keys := wanted.get("suite"):
        for s in Suite.objects.filter(_by_key(keys)):
            names.add("suite", _keys(s), Ref(s.name, reverse("eval_suite_detail", args=[s.code])))
    if keys := wanted.get("campaign"):
        for cam in Campaign.objects.filter(_by_key(keys)):
            url = reverse("campaign_detail", args=[cam.code])
            names.add("campaign", _keys(cam), Ref(cam.name, url))
    if keys := wanted.get("pair"):
        for pair in ShadowPair.objects.filter(_by_key(keys)).select_related("rollout__feature"):
            text = f"a shadow pair of {pair.rollout.feature.key}"
            names.add("pair", _keys(pair), Ref(text, reverse("pair_detail", args=[pair.code])))
    # Approvals and guardrails are named by their rollout ("the error rate guardrail of
    # support-reply's rollout").
    owners: dict[tuple[str, int], int] = {}
    for kind, model in (("approval", Approval), ("guardrail", Guardrail)):
        pks = [int(k) for k in wanted.get(kind, ()) if k.isdigit()]
        for pk, rollout_id in model.objects.filter(pk__in=pks).values_list("pk", "rollout_id"):
            owners[(kind, pk)] = rollout_id
    wanted.setdefault("rollout", set()).update(str(r) for r in owners.values())
    _load_rollouts(names, wanted["rollout"])
    for (kind, pk), rollout_id in owners.items():
        if ref := names.get("rollout", rollout_id):
            names.add(kind, [pk], ref)
    _load_gates(names, wanted.get("gate", set()))
    _load_runs(names, wanted.get("run", set()))
    return names


def _load_rollouts(names: Names, keys: set[str]) -> None:
    if not keys:
        return
    rollouts = list(
        Rollout.objects.filter(_by_key(keys)).select_related(
            "feature", "baseline__model_version", "candidate__model_version"
        )
    )
    plans: dict[int, list[int]] = {}
    for rollout_id, bp in (
        Stage.objects.filter(rollout__in=rollouts, candidate_bp__gt=0)
        .order_by("rollout", "position")
        .values_list("rollout", "candidate_bp")
    ):
        plans.setdefault(rollout_id, []).append(bp)
    for r in rollouts:
        ref = RolloutRef(
            text=f"{r.feature.key}'s rollout",
            url=reverse("rollout_detail", args=[r.code]),
            feature=r.feature.key,
            baseline=_config_ref(r.baseline),
            candidate=_config_ref(r.candidate),
            canary_bps=tuple(plans.get(r.pk, [])),
        )
        names.add("rollout", _keys(r), ref)


def _load_gates(names: Names, keys: set[str]) -> None:
    if not keys:
        return
    for g in Gate.objects.filter(_by_key(keys)).select_related(
        "feature", "candidate__model_version", "rollout"
    ):
        rollout = g.rollout.code if g.rollout else None
        url = reverse("rollout_detail", args=[rollout]) if rollout else ""
        text = f"{g.feature.key} → {_config_ref(g.candidate).text}"
        names.add("gate", _keys(g), GateRef(text, url, rollout=str(rollout or "")))


def _load_runs(names: Names, keys: set[str]) -> None:
    if not keys:
        return
    for run in Run.objects.filter(_by_key(keys)).select_related("suite", "config__model_version"):
        suite = Ref(run.suite.name, reverse("eval_suite_detail", args=[run.suite.code]))
        ref = RunRef(
            text=f"the eval run of {run.suite.name}",
            url=reverse("eval_run_detail", args=[run.code]),
            suite=suite,
            config=_config_ref(run.config),
            side=run.side,
        )
        names.add("run", _keys(run), ref)
