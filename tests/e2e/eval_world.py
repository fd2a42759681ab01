"""A realistic evaluation world for the browser tests of the evaluation pages, built through
the services (tests/e2e/test_eval_pages_browser.py): four features served by a model version
that retires soon, an upgrade campaign whose four rollouts sit at each gate verdict, a suite of
20 cases over four dimensions (critical and draft cases among them), a finished run with long
Markdown, JSON and judged failures, a run still going, and a reviewed shadow pair."""

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group, User
from django.utils import timezone

from comparisons.models import Label, ShadowPair
from evaluations.models import CaseResult, Gate, Run, Suite
from evaluations.services import runs as run_services
from evaluations.services import suites as suite_services
from registry.models import Feature, ModelConfig, ModelVersion, Provider, RequestLog, Rollout
from registry.services import registry
from registry.services.audit import db_now
from rollouts.models import Campaign
from rollouts.services import rollouts
from rollouts.services.campaigns import campaign_create
from tests.gates import finish_gate_runs, make_suite

OLD, NEW = "gpt-4o-2024-05-13", "gpt-4o-2024-08-06"
PASSWORD = "rena-release-pass"
DIMENSIONS = ("format", "tone", "accuracy", "safety")

# A long Markdown answer with a fenced block, a table and one unbroken 300-character token: the
# kind of output that breaks a layout if the page does not wrap and contain it.
LONG_MARKDOWN = (
    "## Returning an item\n\n"
    + "You can return any unused item within 30 days of delivery. " * 12
    + "\n\n| Step | What to do |\n| --- | --- |\n| 1 | Open *Orders* |\n| 2 | Pick the item |\n\n"
    + "```json\n"
    + json.dumps({"order": "A-1042", "items": [{"sku": "X" * 40, "qty": 1}] * 6}, indent=2)
    + "\n```\n\n"
    + "Tracking: https://example.com/track/"
    + "a" * 300
    + "\n\n"
    + "\n".join(f"{n}. Step number {n} of the long procedure." for n in range(1, 60))
)
JSON_OUTPUT = json.dumps({"intent": "refund", "confidence": "high", "notes": ["x"] * 40})
JUDGE_REASON = (
    "The answer promises a refund before the item is inspected, which the policy forbids; "
    "it is also curt (no greeting). Score 0.2 of 1."
)


@dataclass
class World:
    user: User
    suite: Suite
    finished: Run
    running: Run
    gates: dict[str, Gate]
    rollouts: dict[str, Rollout]
    campaign: Campaign
    pair: ShadowPair


def _case_specs() -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = []
    assertions = {
        "format": [{"type": "is-json", "value": {"type": "object", "required": ["intent"]}}],
        "tone": [{"type": "llm-rubric", "value": "Polite, greets the customer, no blame."}],
        "accuracy": [
            {"type": "icontains", "value": "30 days"},
            {"type": "max-length", "value": 4000},
        ],
        "safety": [{"type": "not-icontains", "value": "refund guaranteed"}, {"type": "is-refusal"}],
    }
    for d, dimension in enumerate(DIMENSIONS):
        for n in range(5):
            specs.append(
                {
                    "name": f"{dimension} case {n + 1}: customer asks about order A-{1000 + n}",
                    "variables": {"question": f"Where is order A-{1000 + n}? " * (3 if n else 30)},
                    "assertions": assertions[dimension],
                    "dimension": dimension,
                    "critical": n == 0 and d % 2 == 0,
                    "weight": 2.0 if n == 1 else 1.0,
                    "reference": "Your order ships on Monday." if dimension == "accuracy" else "",
                }
            )
    return specs


def _big_suite(feature: Feature, user: User) -> Suite:
    suite = suite_services.suite_create(
        feature=feature,
        actor=user,
        name="Support replies",
        description="What every support reply must do, from the policy handbook.",
        prompt="Customer: {{ question }}",
    )
    for spec in _case_specs():
        suite_services.case_create(suite=suite, actor=user, **spec)
    for n in range(2):
        suite_services.case_create(
            suite=suite,
            actor=user,
            name=f"draft from traffic {n + 1}",
            draft=True,
            variables={"question": "Can I change my address?"},
            dimension="accuracy",
        )
    return suite


def _outcome(type_: str, passed: bool, reason: str, judge: str = "") -> dict[str, Any]:
    data: dict[str, Any] = {"type": type_, "passed": passed, "score": 1.0 if passed else 0.0}
    data |= {"reason": reason, "weight": 1.0}
    if judge:
        data["judge"] = {"reasoning": judge, "score": 0.2}
    return data


def _write(result: CaseResult, status: str, output: str, outcomes: list[dict]) -> None:
    result.status, result.output, result.outcomes = status, output, outcomes
    result.latency_ms, result.prompt_tokens, result.completion_tokens = 840.0, 412, 96
    result.score, result.finished = (1.0 if status == "pass" else 0.0), timezone.now()
    result.finish_reason = "stop"
    result.save()


def _finished_run(suite: Suite, config: ModelConfig, user: User) -> Run:
    run = run_services.run_create(suite=suite, config=config, actor=user)
    run_services.run_start(run_id=run.pk)
    for result in CaseResult.objects.filter(run=run).select_related("case"):
        name = result.case.name
        if name.startswith("format case 1"):
            _write(
                result,
                "fail",
                JSON_OUTPUT,
                [_outcome("is-json", False, "confidence: 'high' is not of type 'number'")],
            )
        elif name.startswith("accuracy case 2"):
            _write(
                result,
                "fail",
                LONG_MARKDOWN,
                [
                    _outcome("icontains", False, "'30 days' found"),
                    _outcome("max-length", False, f"{len(LONG_MARKDOWN)} characters, over 4000"),
                ],
            )
        elif name.startswith("tone case 3"):
            _write(
                result,
                "fail",
                "Refund approved. <b>Bye</b>",
                [_outcome("llm-rubric", False, "The judge scored 0.2, under 0.5", JUDGE_REASON)],
            )
        elif name.startswith("safety case 4"):
            result.status, result.error_kind = "error", "timeout"
            result.error, result.finished = (
                "The provider did not answer within 60 s.",
                timezone.now(),
            )
            result.save()
        else:
            _write(
                result,
                "pass",
                "Your order A-1000 ships on Monday; returns within 30 days.",
                [_outcome("icontains", True, "found")],
            )
    finished = run_services.run_finish(run_id=run.pk)
    assert finished is not None
    return finished


def _running_run(suite: Suite, config: ModelConfig, user: User) -> Run:
    run = run_services.run_create(suite=suite, config=config, actor=user, trials=2)
    run_services.run_start(run_id=run.pk)
    for result in CaseResult.objects.filter(run=run).order_by("id")[:15]:
        _write(
            result, "pass", "Your order ships on Monday.", [_outcome("icontains", True, "found")]
        )
    return run


P: tuple[str, ...] = ("pass",)
F: tuple[str, ...] = ("fail",)


def _gate_rollouts(campaign: Campaign, user: User) -> tuple[dict[str, Gate], dict[str, Rollout]]:
    by_feature: dict[str, Rollout] = {}
    for member in campaign.members.select_related("feature", "rollout"):
        assert member.rollout is not None, member.problem  # every feature here can start one
        by_feature[member.feature.key] = member.rollout
    gates: dict[str, Gate] = {}
    outcomes = {
        "ticket-summary": ("blocked", {"summary is five bullets": F, "no customer names": P}),
        "triage": ("needs_ack", {"summary is five bullets": P, "no customer names": F}),
        "intent": ("passed", {"summary is five bullets": P, "no customer names": P}),
    }
    good = {"summary is five bullets": P, "no customer names": P}
    for key, (verdict, candidate) in outcomes.items():
        gate = rollouts.rollout_start_gate(rollout=by_feature[key], actor=user)
        finish_gate_runs(gate, {"baseline": good, "candidate": candidate})
        assert gate.verdict == verdict, (key, gate.verdict, gate.report)
        gates[verdict] = gate
    gates["running"] = rollouts.rollout_start_gate(rollout=by_feature["support-reply"], actor=user)
    for run in gates["running"].runs.all():
        run_services.run_start(run_id=run.pk)
        for result in CaseResult.objects.filter(run=run).order_by("id")[:8]:
            _write(result, "pass", "ok", [])
    names = {"running": "support-reply", "blocked": "ticket-summary", "needs_ack": "triage"}
    found = {v: Rollout.objects.get(pk=by_feature[k].pk) for v, k in names.items()}
    found["passed"] = Rollout.objects.get(pk=by_feature["intent"].pk)
    return gates, found


def _reviewed_pair(rollout: Rollout, reviewer: User) -> ShadowPair:
    rollout = rollouts.rollout_start_shadow(rollout=rollout, actor=None)
    log = RequestLog.objects.create(
        feature=rollout.feature,
        request_id="req-golden-1",
        source="ingest",
        config=rollout.baseline,
        variant="baseline",
        rollout=rollout,
        messages=[{"role": "user", "content": "Can I get my money back for a broken kettle?"}],
        output="Yes: send the kettle back within 30 days and we refund you.",
        started=db_now(),
    )
    pair = ShadowPair.objects.create(
        rollout=rollout,
        request=log,
        request_key=log.request_id,
        messages=log.messages,
        baseline_config=rollout.baseline,
        candidate_config=rollout.candidate,
        served_variant="baseline",
        baseline_output=log.output,
        candidate_output="Refund guaranteed!!! " + "a" * 200,
        baseline_latency_ms=100,
        candidate_latency_ms=120,
    )
    Label.objects.create(pair=pair, reviewer=reviewer, verdict="worse", dimensions=["safety"])
    return pair


def build_world() -> World:
    user = User.objects.create_user("rena", password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name="Release manager")[0])
    provider = registry.provider_save(
        provider=Provider(
            name="OpenAI",
            api_style="openai_chat",
            base_url="https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
        ),
        actor=None,
    )
    soon = db_now().date() + timedelta(days=20)
    new = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id=NEW), actor=None
    )
    old = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id=OLD, deprecates=soon, successor=new),
        actor=None,
    )
    features = {}
    for key, name in [
        ("support-reply", "Support reply"),
        ("ticket-summary", "Ticket summary"),
        ("triage", "Triage"),
        ("intent", "Intent"),
    ]:
        config = registry.config_create(
            config=ModelConfig(
                name=f"{key} v1", model_version=old, system_prompt="You help {customer}."
            ),
            actor=None,
        )
        features[key] = registry.feature_create(
            key=key, name=name, served_config=config, actor=None
        )
    suite = _big_suite(features["support-reply"], user)
    for key in ("ticket-summary", "triage", "intent"):
        make_suite(
            features[key],
            name="Core",
            cases=[
                ("summary is five bullets", "format", True),
                ("no customer names", "tone", False),
            ],
        )
    campaign = campaign_create(
        from_version=old,
        to_version=new,
        actor=user,
        deadline=soon - timedelta(days=5),
        start_gates=False,
        note="gpt-4o-2024-05-13 retires; move every feature before it does.",
    )
    gates, found = _gate_rollouts(campaign, user)
    candidate = found["running"].candidate
    finished = _finished_run(suite, candidate, user)
    running = _running_run(suite, features["support-reply"].served_config, user)
    pair = _reviewed_pair(found["passed"], user)
    return World(user, suite, finished, running, gates, found, campaign, pair)
