"""`manage.py gate`: the eval gate for a deployment pipeline, like `promptfoo eval` in CI."""

import time
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from evaluations.models import Gate
from evaluations.services.gates import gate_start
from registry.errors import DomainError
from registry.models import Feature, ModelConfig, Rollout
from rollouts.services.rollouts import rollout_start_gate

# Exit codes (also in the help): 0 passed, 1 blocked, 2 anything that is not a verdict to ship.
EXIT = {
    Gate.Verdict.PASSED: 0,
    Gate.Verdict.BLOCKED: 1,
    Gate.Verdict.NEEDS_ACK: 2,
    Gate.Verdict.INCOMPLETE: 2,
    Gate.Verdict.CANCELLED: 2,
}
EXIT_TIMEOUT = 2
POLL_SECONDS = 2.0


class Command(BaseCommand):
    help = (
        "Run the eval gate of a feature on a candidate config and wait for its verdict. The "
        "runs are executed by the Celery workers (or here, with --run-here). Exit codes: 0 "
        "passed; 1 blocked (a critical case regressed: the regressed cases are printed); 2 "
        "needs acknowledgement, incomplete, cancelled or timed out. Errors in the arguments "
        "exit with 1 and a message, like every Django command."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--feature", required=True, help="The feature's key.")
        parser.add_argument(
            "--candidate", required=True, help="The candidate config's code (UUID) or name."
        )
        parser.add_argument("--trials", type=int, default=1, help="Trials per case (1-20).")
        parser.add_argument(
            "--timeout", type=float, default=1800.0, help="Seconds to wait for the verdict."
        )
        parser.add_argument(
            "--rollout",
            help="A rollout's code: run that rollout's gate (draft or gate status) instead of a "
            "standalone one.",
        )
        parser.add_argument(
            "--run-here",
            action="store_true",
            help="Execute the runs in this process instead of waiting for the workers.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        feature = Feature.objects.filter(key=options["feature"]).first()
        if feature is None:
            raise CommandError(f"--feature: no feature '{options['feature']}'.")
        candidate = self._candidate(options["candidate"])
        try:
            gate = self._start(feature, candidate, options)
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            field, errors = next(iter(exc.message_dict.items()))
            raise CommandError(f"--{field}: {' '.join(errors)}") from None
        self.stdout.write(f"Gate {gate.code} started on {feature.key}: {candidate.name}.")
        if options["run_here"]:
            from evaluations import executor

            try:
                for run_id in gate.runs.order_by("id").values_list("id", flat=True):
                    executor.run_execute(run_id)
            finally:
                # The executor's event loop keeps pooled provider connections for the process.
                executor.shutdown()
        gate = self._wait(gate, options["timeout"])
        if gate.verdict == Gate.Verdict.RUNNING:
            self.stderr.write(f"Timed out after {options['timeout']:g} s; the gate still runs.")
            raise SystemExit(EXIT_TIMEOUT)
        self._print(gate)
        raise SystemExit(EXIT[Gate.Verdict(gate.verdict)])

    def _candidate(self, value: str) -> ModelConfig:
        try:
            by_code = Q(code=uuid.UUID(value))
        except ValueError:
            by_code = Q(pk__in=[])
        matches = list(ModelConfig.objects.filter(by_code | Q(name=value))[:2])
        if not matches:
            raise CommandError(f"--candidate: no config with code or name '{value}'.")
        if len(matches) > 1:
            raise CommandError(f"--candidate: several configs are named '{value}'; give its code.")
        return matches[0]

    def _start(self, feature: Feature, candidate: ModelConfig, options: dict[str, Any]) -> Gate:
        if not options["rollout"]:
            return gate_start(
                feature=feature, candidate=candidate, actor=None, trials=options["trials"]
            )
        try:
            rollout = Rollout.objects.get(code=uuid.UUID(options["rollout"]), feature=feature)
        except (ValueError, Rollout.DoesNotExist):
            raise CommandError(
                f"--rollout: no rollout {options['rollout']} of '{feature.key}'."
            ) from None
        if rollout.candidate_id != candidate.pk:
            raise CommandError(
                f"--candidate: the rollout's candidate is '{rollout.candidate.name}'; change it "
                "on the rollout page first."
            )
        return rollout_start_gate(rollout=rollout, actor=None, trials=options["trials"])

    def _wait(self, gate: Gate, timeout: float) -> Gate:
        deadline = time.monotonic() + timeout
        while True:
            gate.refresh_from_db()
            if gate.verdict != Gate.Verdict.RUNNING or time.monotonic() >= deadline:
                return gate
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))

    def _print(self, gate: Gate) -> None:
        report = gate.report or {}
        self.stdout.write(f"Verdict: {gate.get_verdict_display()} ({gate.verdict})")
        for reason in report.get("reasons", []):
            self.stdout.write(f"  {reason}")
        regressed = [
            c for c in report.get("cases", []) if c.get("blocks") or c.get("change") == "regressed"
        ]
        if regressed:
            self.stdout.write("Regressed cases:")
            for c in regressed:
                mark = "critical " if c["critical"] else ""
                self.stdout.write(f"  - {mark}{c['name']} ({c['dimension']})")
        for d in report.get("dimensions", []):
            delta = d.get("delta_pp")
            self.stdout.write(
                f"  {d['suite_name']} / {d['dimension']}: "
                f"{'n/a' if delta is None else f'{delta:+.1f}'} points "
                f"(n {d['baseline']['n']} / {d['candidate']['n']})"
            )
