from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """Providers, model versions, configs, features, rollouts' rows, the request log, the audit
    trail and the serving ledger: the bottom layer every other package imports.

    The label stays "rollouts", the app's first name, so the migrations, the tables and every
    "rollouts.<model>" reference keep theirs."""

    name = "registry"
    label = "rollouts"
    verbose_name = "Registry, rollouts and audit"

    def ready(self) -> None:
        # Role, group and permission changes are audited from every code path (see the module).
        from registry import role_audit  # noqa: F401
