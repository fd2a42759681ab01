"""The canary demo (`manage.py demo_canary`, issue 10): the support-reply upgrade through shadow
and two canary stages on simulated traffic, then the simulator's staged regression and the
automatic rollback, against the product started with `make run`.

The steps drive the running product as its users would: requests go to the gateway over real
HTTP (so the web process logs them, rolls them up and routes them by the live split), the
promotions are the demo release manager's approvals through rollout_promote, and the rollback
is the guardrails' own (beat's evaluation every minute, or `evaluate_every` here). Timings are
parameters (`Timings`), so a test runs the same steps in seconds.

The seed writes the support-reply plan with a demo-sized shadow stage (`demo_plan_write`): a
stage's minimums cannot change once it runs, and shadow starts at seed time.
"""

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import User

from registry.models import AuditEvent, Feature, Rollout
from rollouts.guardrails.evaluate import guardrails_evaluate
from rollouts.models import Stage
from rollouts.services.promotion import rollout_promote
from rollouts.services.stages import (
    DEFAULT_PLAN,
    Evidence,
    PlannedStage,
    active_stage,
    duration_text,
    stage_evidence,
    stage_plan_update,
    stage_plan_write,
)
from traffic.simulator.behaviours import BEHAVIOURS
from traffic.simulator.regressions import simulator_regression_switch
from traffic.tokens import token_create

from .demo_traffic import Traffic, canary_errors, outcomes

FEATURE = "support-reply"
MANAGER = "release"  # the demo's release manager (seed_demo)
RESET = (
    "Reset the demo: stop `make run`, then `make reset-demo && make run` (it deletes the demo's "
    "database, broker folder and beat schedule in var/)."
)
# A shadow stage that asks for more than this was seeded before the demo plan existed.
SHADOW_LIMIT = timedelta(minutes=10)


DEMO_SHADOW = PlannedStage(0, timedelta(minutes=1), 20)
# The canary stages after shadow; the plan ends at 100% (the demo stops before it).
DEMO_CANARY = (
    PlannedStage(5, timedelta(minutes=2), 100),
    PlannedStage(25, timedelta(minutes=2), 100),
    PlannedStage(100, timedelta(minutes=2), 100),
)


@dataclass(frozen=True)
class Timings:
    shadow: PlannedStage = DEMO_SHADOW
    canary: tuple[PlannedStage, ...] = DEMO_CANARY
    rate: float = 20.0  # requests per second while a canary stage runs
    shadow_rate: float = 4.0  # in shadow each request is also a candidate call on the worker
    concurrency: int = 16
    poll: float = 1.0  # seconds between looks at the evidence
    report_every: float = 15.0  # seconds between progress lines
    stage_timeout: float = 900.0
    rollback_timeout: float = 600.0
    # Evaluate the guardrails here this often (seconds); None leaves it to beat.
    evaluate_every: float | None = None
    users: int = 5000  # distinct unit keys


class DemoRefused(Exception):
    """The product is not where the scenario expects; the message says what to do."""


def demo_plan_write(*, rollout: Rollout, shadow: PlannedStage | None = None) -> None:
    """Before shadow starts (seed_demo): the demo-sized shadow stage, then the default canary
    stages, which demo_canary edits through stage_plan_update. A plan already there is kept."""
    shadow = shadow or DEMO_SHADOW
    stage_plan_write(
        rollout=rollout,
        plan=[(0.0, shadow.min_duration, shadow.min_samples), *DEFAULT_PLAN[1:]],
    )


@dataclass
class Scenario:
    base_url: str
    timings: Timings = field(default_factory=Timings)
    out: Callable[[str], None] = print
    token: str = ""

    def __post_init__(self) -> None:
        self.started = time.monotonic()
        self._traffic: Traffic | None = None
        self.reported: Counter[str] = Counter()

    @property
    def traffic(self) -> Traffic:
        if self._traffic is None:
            raise RuntimeError("Scenario.start() makes the traffic sender: call it first.")
        return self._traffic

    def say(self, line: str) -> None:
        elapsed = int(time.monotonic() - self.started)
        self.out(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {line}")

    # --- where the product is -----------------------------------------------------------------

    def rollout(self) -> Rollout:
        """The support-reply upgrade, if it is where the scenario can go on from; else refuse."""
        feature = Feature.objects.filter(key=FEATURE).first()
        if feature is None or not User.objects.filter(username=MANAGER).exists():
            raise DemoRefused("No demo data: start the product with `make run` first (it seeds).")
        rollout = (
            feature.rollouts.select_related("candidate__model_version").order_by("-id").first()
        )
        status = Rollout.Status
        if rollout is None or rollout.status in (status.DRAFT, status.GATE):
            raise DemoRefused(
                "The support-reply upgrade has not passed its gate: `make run` runs it at "
                f"start-up; look at the rollout page. {RESET}"
            )
        if rollout.status not in (status.SHADOW, status.CANARY):
            raise DemoRefused(
                f"The support-reply rollout is {rollout.get_status_display().lower()} already, so "
                f"there is nothing left to show on it. {RESET}"
            )
        if rollout.paused:
            raise DemoRefused("The support-reply rollout is paused: resume it on its page first.")
        stage = active_stage(rollout)
        percents = [row.percent for row in self.timings.canary[:2]]
        if stage is None or (not stage.is_shadow and stage.percent not in percents):
            where = f"{stage.percent:g}%" if stage else "no stage"
            raise DemoRefused(
                f"The support-reply rollout is at {where}, not in shadow or a demo stage "
                f"({', '.join(f'{p:g}%' for p in percents)}). {RESET}"
            )
        if stage.is_shadow and stage.min_duration > SHADOW_LIMIT:
            raise DemoRefused(
                f"Its shadow stage asks for {duration_text(stage.min_duration)}: the demo data "
                f"was seeded before the demo plan existed. {RESET}"
            )
        if rollout.candidate.model_version.model_id not in BEHAVIOURS:
            raise DemoRefused("The support-reply candidate is not a simulated model version.")
        return rollout

    def url(self, rollout: Rollout) -> str:
        return f"{self.base_url.rstrip('/')}/rollouts/{rollout.code}/"

    # --- the steps ----------------------------------------------------------------------------

    def start(self) -> Rollout:
        rollout = self.rollout()
        if not self.token:
            _, self.token = token_create(
                name="demo canary traffic", features=[rollout.feature], actor=None
            )
        self._traffic = Traffic(
            base_url=self.base_url,
            token=self.token,
            feature=FEATURE,
            users=self.timings.users,
            concurrency=self.timings.concurrency,
        )
        self.say(f"Rollout page (sign in as {MANAGER}): {self.url(rollout)}")
        self._wait_for_gateway()
        return rollout

    def _wait_for_gateway(self) -> None:
        # A new token reaches the web process with its routing table, a moment after it is made.
        deadline = time.monotonic() + 15
        while True:
            outcome = next(iter(self.traffic.send(1)))
            if outcome.endswith(" 200"):
                return
            if time.monotonic() > deadline:
                raise DemoRefused(
                    f"The gateway at {self.traffic.url} answers '{outcome}': start the product "
                    "with `make run` in another terminal (or pass --base-url)."
                )
            time.sleep(0.5)

    def _send(self, count: int) -> None:
        outcomes = self.traffic.send(count)
        if all(key.startswith("unreachable") for key in outcomes):
            raise DemoRefused(
                f"The product stopped answering at {self.traffic.url} ({', '.join(outcomes)}): "
                "is `make run` still running? Its log says why it stopped."
            )

    def _interval(self) -> str:
        """What the gateway answered since the last progress line."""
        since = self.traffic.sent - self.reported
        self.reported = Counter(self.traffic.sent)
        return ", ".join(f"{n} {key}" for key, n in sorted(since.items())) or "nothing"

    def plan(self, rollout: Rollout) -> None:
        """In shadow: the canary stages demo-sized, as the release manager edits them."""
        stage = active_stage(rollout)
        if stage is None or not stage.is_shadow:
            return
        rows = list(self.timings.canary)
        stage_plan_update(
            rollout=rollout,
            rows=rows,
            actor=User.objects.get(username=MANAGER),
            reason="demo_canary: demo-sized stages, minutes instead of hours",
        )
        shown = ", ".join(
            f"{r.percent:g}% ({duration_text(r.min_duration)}, {r.min_samples}/arm)" for r in rows
        )
        self.say(f"Plan after shadow set to {shown}.")

    def wait_for_minimums(self, rollout: Rollout) -> Evidence:
        """Traffic until the active stage has met its minimum duration and samples."""
        stage = _running_stage(rollout)
        rate = self.timings.shadow_rate if stage.is_shadow else self.timings.rate
        batch = max(1, round(rate * self.timings.poll))
        name = "shadow" if stage.is_shadow else f"{stage.percent:g}% stage"
        self.say(f"{name}: sending ~{rate:g} requests/s until it meets its minimums.")
        began, last_report = time.monotonic(), time.monotonic()
        while True:
            tick = time.monotonic()
            self._send(batch)
            evidence = stage_evidence(rollout, stage)
            if evidence.met:
                self.say(f"{name}: minimums met, {_samples(evidence)}.")
                return evidence
            rollout.refresh_from_db()
            if rollout.status not in (Rollout.Status.SHADOW, Rollout.Status.CANARY):
                raise DemoRefused(
                    f"The rollout was {rollout.get_status_display().lower()} during the "
                    f"{name}: {_rollback_reason(rollout)} {RESET}"
                )
            now = time.monotonic()
            if now - last_report >= self.timings.report_every:
                last_report = now
                hint = ""
                if stage.is_shadow and not evidence.samples["candidate"]:
                    hint = " (no shadow pairs yet: the Celery worker of `make run` makes them)"
                self.say(f"{name}: {evidence.message}; {_samples(evidence)}{hint}.")
                self.say(f"  gateway answers since the last line: {self._interval()}")
            if now - began > self.timings.stage_timeout:
                raise DemoRefused(f"{name}: still {evidence.message} after the demo's timeout.")
            time.sleep(max(0.0, self.timings.poll - (time.monotonic() - tick)))

    def promote(self, rollout: Rollout, evidence: Evidence) -> Rollout:
        stage = evidence.stage
        target = Stage.objects.filter(
            rollout=rollout, status=Stage.Status.PLANNED, position__gt=stage.position
        ).order_by("position")[0]
        name = "shadow" if stage.is_shadow else f"the {stage.percent:g}% stage"
        note = (
            f"demo_canary: {name} met its minimums ({_samples(evidence)}) with no "
            f"red on the decision panel; on to {target.percent:g}%."
        )
        manager = User.objects.get(username=MANAGER)
        rollout_promote(rollout=rollout, actor=manager, note=note, expected_position=stage.position)
        rollout.refresh_from_db()
        self.say(f"Promoted by {MANAGER} to {rollout.candidate_percent:g}%: “{note}”")
        return rollout

    def regression_until_rollback(self, rollout: Rollout) -> AuditEvent | None:
        """Switch the candidate's staged regression on, keep the traffic going until the
        guardrails roll the rollout back; returns the rollback's audit event."""
        model_id = rollout.candidate.model_version.model_id
        row = simulator_regression_switch(model_id=model_id, on=True)
        before = Counter(self.traffic.sent)
        self.say(
            f"Staged regression ON for {model_id}: {row.failure_rate:.0%} of its inputs fail "
            f"with HTTP {row.failure_status}, +{row.extra_latency_ms} ms. Watch the error-rate "
            "and latency charts; the guardrails decide within a minute or two"
            + ("." if self.timings.evaluate_every else " (beat evaluates them every minute).")
        )
        batch = max(1, round(self.timings.rate * self.timings.poll))
        began = last_report = last_eval = time.monotonic()
        try:
            while True:
                tick = time.monotonic()
                self._send(batch)
                every = self.timings.evaluate_every
                if every is not None and tick - last_eval >= every:
                    last_eval = tick
                    guardrails_evaluate(rollout)
                rollout.refresh_from_db()
                if rollout.status != Rollout.Status.CANARY:
                    break
                if tick - last_report >= self.timings.report_every:
                    last_report = tick
                    since = self.traffic.sent - before
                    self.say(f"Regression on: {canary_errors(since)}; no rollback yet.")
                if tick - began > self.timings.rollback_timeout:
                    raise DemoRefused(
                        "No automatic rollback within the demo's timeout: is beat running "
                        "(`make run` starts it)? Or pass --evaluate-here."
                    )
                time.sleep(max(0.0, self.timings.poll - (time.monotonic() - tick)))
        finally:
            simulator_regression_switch(model_id=model_id, on=False)
        event = _rollback_event(rollout)
        sent = sum((self.traffic.sent - before).values())
        candidates = sum(n for key, n in (self.traffic.sent - before).items() if "candidate" in key)
        self.say(
            f"Rolled back automatically: the candidate serves {rollout.candidate_percent:g}% "
            f"again, after {sent} requests ({candidates} to the candidate) with the regression on."
        )
        self.say(f"Audit: “{event.reason if event else 'no rollback event found'}”")
        self.say("Staged regression switched off again.")
        return event

    def run(self, *, regression: bool = True) -> Rollout:
        rollout = self.start()
        try:
            self.plan(rollout)
            while True:
                stage = _running_stage(rollout)
                evidence = self.wait_for_minimums(rollout)
                if stage.percent == self.timings.canary[1].percent:
                    break
                rollout = self.promote(rollout, evidence)
            if not regression:
                self.say(
                    f"Stopping at {rollout.candidate_percent:g}% (--no-regression): promote "
                    "further, complete or roll back on the rollout page."
                )
                return rollout
            self.regression_until_rollback(rollout)
            self.say(f"The charts show it all: {self.url(rollout)}")
            return rollout
        finally:
            self.traffic.close()
            self.say(f"Requests sent: {self.traffic.total} ({outcomes(self.traffic)}).")


def _running_stage(rollout: Rollout) -> Stage:
    stage = active_stage(rollout)
    if stage is None:
        raise DemoRefused(f"The support-reply rollout has no running stage any more. {RESET}")
    return stage


def _samples(evidence: Evidence) -> str:
    noun = "pairs" if evidence.stage.is_shadow else "requests"
    return (
        f"{duration_text(evidence.elapsed)}, {evidence.samples['candidate']} candidate "
        f"{noun} and {evidence.samples['baseline']} baseline requests"
    )


def _rollback_event(rollout: Rollout) -> AuditEvent | None:
    return (
        AuditEvent.objects.filter(action="rollout.rollback", object_id=str(rollout.code))
        .order_by("-id")
        .first()
    )


def _rollback_reason(rollout: Rollout) -> str:
    event = _rollback_event(rollout)
    return f"“{event.reason}”" if event else "no rollback reason recorded."
