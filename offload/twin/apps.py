from django.apps import AppConfig


class TwinConfig(AppConfig):
    name = "offload.twin"
    label = "twin"
    verbose_name = "Digital twin"

    def ready(self) -> None:
        # Registers the twin models with the visibility rules, and the run-recovery
        # sweep (services.runs_recover) with the worker.
        from offload.twin import services, visibility_rules  # noqa: F401
