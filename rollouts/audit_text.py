"""Audit events in sentences: "rena promoted support-reply's rollout to 5% (stage 2 of 6):
“looks good”", with names instead of database ids, links, and before/after as a field diff.

`describe(event, names)` is a pure function of one AuditEvent and the name cache
(rollouts/audit_names.py: `load_names(events)`), so every action the product writes can be tested
as a table without a database. The event's own id is shown beside the sentence ("#42"): the
serving ledger cites the same number."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry.models import AuditEvent

from .audit_names import (
    FK_KINDS,
    OBJECT_KINDS,
    GateRef,
    Names,
    Ref,
    RolloutRef,
    RunRef,
    load_names,
)


@dataclass(frozen=True)
class Part:
    text: str
    url: str = ""


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class Sentence:
    parts: tuple[Part, ...]
    reason: str
    changes: tuple[Change, ...]

    @property
    def text(self) -> str:
        body = "".join(p.text for p in self.parts)
        return f"{body}: “{self.reason}”" if self.reason else body


_P = Part | Ref | str
_NOT_SHOWN = {"id", "code", "salt", "hash", "prev_hash", "report", "staged", "request_ids"}
_VERDICTS = {
    "passed": "passed",
    "blocked": "blocked the candidate",
    "needs_ack": "needs acknowledgement",
    "incomplete": "was incomplete",
    "cancelled": "was cancelled",
    "running": "is running",
}
_LABELS = {
    "better": "candidate better",
    "same": "same",
    "worse": "candidate worse",
    "both_bad": "both bad",
}


def percent(bp: Any) -> str:
    return f"{int(bp) / 100:g}%" if isinstance(bp, int | float) else "?%"


class _Ctx:
    def __init__(self, event: AuditEvent, names: Names) -> None:
        self.event = event
        self.names = names
        self.before: dict[str, Any] = event.before if isinstance(event.before, dict) else {}
        self.after: dict[str, Any] = event.after if isinstance(event.after, dict) else {}
        actor = event.actor_label or "system"
        self.actor = "the system" if actor == "system" else actor

    def value(self, key: str) -> Any:
        return self.after.get(key, self.before.get(key))

    def fk(self, key: str, *, side: str = "") -> Ref:
        data = {"before": self.before, "after": self.after}.get(side) or {
            **self.before,
            **self.after,
        }
        return fk_ref(key, data.get(key), self.names)

    def obj(self) -> Ref:
        kind = OBJECT_KINDS.get(self.event.object_type, "")
        found = self.names.get(kind, self.event.object_id) if kind else None
        if found is not None:
            return found
        name = self.value("name")
        if isinstance(name, str) and name:
            return Ref(f"“{name}”")
        return Ref(_KIND_WORDS.get(kind, "an object") + " since removed")

    def rollout(self) -> RolloutRef:
        kind = OBJECT_KINDS.get(self.event.object_type)
        ref = self.obj() if kind in ("rollout", "approval", "guardrail") else None
        if isinstance(ref, RolloutRef):
            return ref
        feature = self.event.feature_key
        return RolloutRef(f"{feature}'s rollout" if feature else "a rollout", feature=feature)


_KIND_WORDS = {
    "rollout": "a rollout",
    "config": "a config",
    "feature": "a feature",
    "version": "a model version",
    "provider": "a provider",
    "gate": "a gate",
    "run": "an eval run",
    "suite": "an eval suite",
    "campaign": "a campaign",
    "pair": "a shadow pair",
    "user": "an account",
    "group": "a group",
    "stage": "a stage",
}


def fk_ref(key: str, value: Any, names: Names) -> Ref:
    """A foreign key's value as a name (never the id): `value` may already be a name."""
    if value is None or value == "":
        return Ref("none")
    kind = FK_KINDS.get(key, "")
    found = names.get(kind, value)
    if found is not None:
        return found
    if isinstance(value, str) and not value.isdigit():
        return Ref(value)  # already a name (a feature key, a model id)
    return Ref(_KIND_WORDS.get(kind, "an object") + " since removed")


def _stage_text(ref: RolloutRef, bp: Any) -> str:
    if isinstance(bp, int) and bp in ref.canary_bps:
        return f" (stage {ref.canary_bps.index(bp) + 1} of {len(ref.canary_bps)})"
    return ""


# --- One function per action family -----------------------------------------------------------


def _rollout(c: _Ctx, verb: str) -> list[_P]:
    r = c.rollout()
    before_bp, after_bp = c.before.get("candidate_bp"), c.after.get("candidate_bp")
    if verb in ("set_canary", "promote"):
        start = f" from {percent(before_bp)}" if before_bp else ""
        return [
            c.actor,
            " promoted ",
            r,
            f"{start} to {percent(after_bp)}",
            _stage_text(r, after_bp),
        ]
    phrases: dict[str, list[_P]] = {
        "create": [c.actor, " started ", r, " from ", c.fk("baseline"), " to ", c.fk("candidate")],
        "start_gate": [c.actor, " sent ", r, " to ", c.fk("candidate"), " to the eval gate"],
        "start_shadow": [
            c.actor, " started shadow traffic on ", r, " to ", c.fk("candidate"), " (0% served)"
        ],
        "rollback": [
            c.actor,
            " rolled back ",
            r,
            f" from {percent(before_bp)}" if before_bp else "",
            ": all traffic to ",
            c.fk("baseline"),
        ],
        "abort": [c.actor, " aborted ", r, " to ", c.fk("candidate")],
        "change_candidate": [
            c.actor, " changed the candidate of ", r, " from ",
            c.fk("candidate", side="before"), " to ", c.fk("candidate", side="after"),
        ],
        "complete": [c.actor, " completed ", r, ": ", c.fk("candidate"), " now serves 100%"],
        "pause": [c.actor, " paused ", r, f" at {percent(after_bp)}" if after_bp else ""],
        "resume": [c.actor, " resumed ", r],
        "edit_plan": [c.actor, " edited the stage plan of ", r],
    }  # fmt: skip
    if verb == "set_judge":
        judge = c.after.get("judge_config")
        if judge is None:
            return [c.actor, " stopped the judge of ", r]
        return [c.actor, " set the judge of ", r, " to ", c.fk("judge_config", side="after")]
    return phrases.get(verb) or [c.actor, f" {_words(verb)} ", r]


def _gate(c: _Ctx, verb: str) -> list[_P]:
    gate = c.obj()
    if not isinstance(gate, GateRef):
        gate = Ref(f"{c.event.feature_key or 'a feature'} → {c.fk('candidate').text}")
    if verb == "verdict":
        verdict = str(c.after.get("verdict", ""))
        return ["the gate of ", gate, " ", _VERDICTS.get(verdict, _words(verdict))]
    if verb == "start":
        return [c.actor, " started the gate of ", gate]
    if verb == "acknowledge":
        return [c.actor, " acknowledged the gate of ", gate]
    if verb == "cancel":
        return [c.actor, " cancelled the gate of ", gate]
    return [c.actor, f" {_words(verb)} the gate of ", gate]


def _run(c: _Ctx, verb: str) -> list[_P]:
    run = c.obj()
    suite = run.suite if isinstance(run, RunRef) else c.fk("suite")
    config = run.config if isinstance(run, RunRef) else c.fk("config")
    side = c.value("side")
    what: list[_P] = [
        Part(f"{'the ' + side + ' ' if side else 'the '}eval run", run.url),
        " of ",
        suite,
        " on ",
        config,
    ]
    done = {
        "create": " was queued",
        "start": " started",
        "complete": " finished",
        "cancel": " was cancelled",
    }
    if verb in ("create", "cancel") and c.event.actor_label != "system":
        return [c.actor, " queued " if verb == "create" else " cancelled ", *what]
    return [*what, done.get(verb, f" {_words(verb)}")]  # fmt: skip


def _suite(c: _Ctx, verb: str) -> list[_P]:
    suite = c.obj()
    if verb == "import":
        n = c.after.get("cases")
        return [c.actor, f" imported {n} case{'s' if n != 1 else ''} into the eval suite ", suite]
    if verb == "create":
        return [c.actor, " created the eval suite ", suite, " of ", c.fk("feature")]
    return [c.actor, f" {_past(verb)} the eval suite ", suite]


def _case(c: _Ctx, verb: str) -> list[_P]:
    name = c.value("name")
    case = f"the case “{name}”" if name else "a case"
    verbs = {
        "create": " added ",
        "update": " edited ",
        "delete": " deleted ",
        "publish": " published ",
    }
    into = " to " if verb == "create" else " of "
    return [c.actor, verbs.get(verb, f" {_words(verb)} "), case, into, c.fk("suite")]


def _registry(c: _Ctx, noun: str, verb: str) -> list[_P]:
    obj = c.obj()
    if noun == "feature" and verb == "switch_config":
        old, new = c.fk("served_config", side="before"), c.fk("served_config", side="after")
        return [c.actor, " changed the served config of ", obj, " from ", old, " to ", new]
    if noun == "feature" and verb == "create":
        return [c.actor, " registered ", obj, " serving ", c.fk("served_config")]
    if noun == "feature" and verb.startswith("revert"):
        return [
            c.actor,
            " reverted ",
            obj,
            " to its previous config ",
            c.fk("served_config", side="after"),
        ]
    if noun == "config" and verb == "create":
        return [c.actor, " created the config ", obj, " on ", c.fk("model_version")]
    if noun == "provider" and verb == "circuit_reset":
        was = str(c.before.get("circuit") or "open").replace("_", "-")
        return [c.actor, " closed the circuit of the provider ", obj, f" by hand (it was {was})"]
    if noun == "model_version" and verb == "catalog":
        return ["the model catalog updated ", obj]
    if noun == "model_version" and verb == "retiring":
        days = c.after.get("days_left")
        return [
            obj,
            f" retires in {days} day{'s' if days != 1 else ''} and still serves ",
            c.fk("feature"),
        ]
    what = {
        "model_version": "the model version ",
        "config": "the config ",
        "provider": "the provider ",
        "feature": "",
    }
    return [c.actor, f" {_past(verb)} ", what.get(noun, ""), obj]  # fmt: skip


def _people(c: _Ctx, noun: str, verb: str) -> list[_P]:
    obj = Ref(c.event.object_repr) if noun in ("user", "group") else c.obj()
    if verb.endswith(("_add", "_remove", "_clear")):
        relation = verb.rpartition("_")[0]
        old = set(c.before.get(relation) or [])
        new = set(c.after.get(relation) or [])
        what = "roles" if relation == "groups" else "permissions"
        gained, lost = sorted(new - old), sorted(old - new)
        parts: list[_P] = [c.actor, " changed the ", what, " of ", obj]
        if gained:
            parts.append(": gave " + ", ".join(gained))
        if lost:
            parts.append(("; " if gained else ": ") + "took away " + ", ".join(lost))
        return parts
    if noun == "user" and verb == "flags_change":
        flips = [f"{k.removeprefix('is_')} {'on' if c.after.get(k) else 'off'}"
                 for k in c.after if c.after.get(k) != c.before.get(k)]  # fmt: skip
        return [c.actor, " changed the account ", obj, ": ", ", ".join(flips) or "no flag"]
    if noun == "group" and verb == "rename":
        return [c.actor, f" renamed the group “{c.before.get('name')}” to “{c.after.get('name')}”"]
    kind = "the account " if noun == "user" else "the group "
    return [c.actor, f" {_past(verb)} ", kind, obj]


def _pairs(c: _Ctx, noun: str, verb: str) -> list[_P]:
    pair = c.fk("pair")
    if noun == "label":
        if verb == "cover":
            n = c.after.get("identical_pairs")
            return [c.actor, f" copied their label to {n} identical pair{'s' if n != 1 else ''}"]
        if verb == "undo":
            return [c.actor, " undid their label on ", pair]
        verdict = _LABELS.get(str(c.after.get("verdict")), _words(str(c.after.get("verdict"))))
        labelled = " relabelled " if verb == "update" else " labelled "
        return [c.actor, labelled, pair, f": {verdict}"]
    if noun == "adjudication":
        return [c.actor, " settled the reviewers' disagreement on ", pair]
    r = (
        c.rollout()
        if noun == "offline_comparison"
        else fk_ref("rollout", c.value("rollout"), c.names)
    )
    if noun == "pairs":
        return [c.actor, " imported pairs into ", r]
    if noun == "replay":
        return [c.actor, " started a replay of logged requests for ", r]
    return [c.actor, " created an offline comparison for ", c.event.feature_key or "a feature",
            ": ", c.fk("baseline"), " vs ", c.fk("candidate")]  # fmt: skip


def _other(c: _Ctx, noun: str, verb: str) -> list[_P]:
    if noun == "campaign":
        return [c.actor, " started the upgrade campaign ", c.obj(), " from ",
                c.fk("from_version"), " to ", c.fk("to_version")]  # fmt: skip
    if noun == "token":
        name = c.after.get("name") or c.event.object_repr.split(" (")[0]
        if verb == "create":
            features = ", ".join(c.after.get("features") or []) or "no feature"
            return [c.actor, f" created the API token “{name}” for {features}"]
        return [c.actor, f" {_past(verb)} the API token “{name}”"]
    if noun == "approval":
        to = c.after.get("to_percent")
        target = f" to {to:g}%" if isinstance(to, int | float) else ""
        r = c.rollout()
        if verb == "override":
            return [c.actor, " overrode the evidence to promote ", r, target]
        waits = c.after.get("waits_for")
        tail = f"; it waits for {waits}" if waits else ""
        return [c.actor, " approved the promotion of ", r, target, tail]
    if noun == "guardrail":
        label = str(c.after.get("label") or c.after.get("metric") or "a").lower()
        severity = c.after.get("severity")
        kind = f" ({severity})" if severity else ""
        state = "breached" if verb == "breach" else _words(verb)
        return [f"the {label} guardrail{kind} of ", c.rollout(), f" {state}"]
    if noun == "audit" and verb == "chain_keyed":
        return ["the audit trail started signing its chain with the audit key"]
    obj = c.obj()
    return [c.actor, f" recorded “{_words(noun)} {_words(verb)}” on ", obj]


def _words(text: str) -> str:
    return text.replace("_", " ").replace(".", " ")


def _past(verb: str) -> str:
    irregular = {"create": "created", "update": "updated", "delete": "deleted", "revoke": "revoked",
                 "archive": "archived", "publish": "published", "import": "imported"}  # fmt: skip
    return irregular.get(verb) or (verb + "d" if verb.endswith("e") else verb + "ed")


_FAMILIES: dict[str, Callable[[_Ctx, str, str], list[_P]]] = {
    "rollout": lambda c, n, v: _rollout(c, v),
    "gate": lambda c, n, v: _gate(c, v),
    "eval_run": lambda c, n, v: _run(c, v),
    "eval_suite": lambda c, n, v: _suite(c, v),
    "eval_case": lambda c, n, v: _case(c, v),
    "feature": _registry,
    "config": _registry,
    "model_version": _registry,
    "provider": _registry,
    "user": _people,
    "group": _people,
    "label": _pairs,
    "adjudication": _pairs,
    "pairs": _pairs,
    "replay": _pairs,
    "offline_comparison": _pairs,
}


def describe(event: AuditEvent, names: Names) -> Sentence:
    """The event as a sentence with links, its reason, and its before/after as a field diff."""
    c = _Ctx(event, names)
    noun, _, verb = event.action.partition(".")
    parts = _FAMILIES.get(noun, _other)(c, noun, verb)
    out = tuple(
        p if isinstance(p, Part) else Part(p) if isinstance(p, str) else Part(p.text, p.url)
        for p in parts
        if (p if isinstance(p, str) else p.text)
    )
    return Sentence(
        parts=out, reason=event.reason, changes=tuple(field_diff(c.before, c.after, names))
    )


def show_value(key: str, value: Any, names: Names) -> str:
    if value is None or value == "":
        return "—"
    if key in FK_KINDS:
        return fk_ref(key, value, names).text
    if key.endswith("_bp") and isinstance(value, int | float):
        return percent(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def field_diff(before: dict[str, Any], after: dict[str, Any], names: Names) -> list[Change]:
    """Only the fields that changed, foreign keys by name. A creation lists what was set, a
    deletion what was there."""
    changes = []
    for key in [*before, *(k for k in after if k not in before)]:
        if key in _NOT_SHOWN:
            continue
        old, new = before.get(key), after.get(key)
        if old == new or (old in (None, "", [], {}) and new in (None, "", [], {})):
            continue
        changes.append(
            Change(key.replace("_", " "), show_value(key, old, names), show_value(key, new, names))
        )
    return changes


def describe_all(events: list[AuditEvent]) -> list[tuple[AuditEvent, Sentence]]:
    """Each event with its sentence, the names loaded once for the whole page."""
    names = load_names(events)
    return [(event, describe(event, names)) for event in events]
