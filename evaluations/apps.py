from django.apps import AppConfig


class EvaluationsConfig(AppConfig):
    """Eval suites, cases, runs and the gate report (to come)."""

    name = "evaluations"
