from django.apps import AppConfig


class RolloutControlConfig(AppConfig):
    """Rollout control, the top layer: rollout transitions, the pages and the admin."""

    name = "rollouts"
    # "rollouts" is the registry's label (it holds the models and migrations).
    label = "rollout_control"
    verbose_name = "Rollout control"
