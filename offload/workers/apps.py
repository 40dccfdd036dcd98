from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "offload.workers"
    label = "workers"
    verbose_name = "Workers"

    def ready(self) -> None:
        # Registers the worker models with the visibility rules.
        from offload.workers import visibility_rules  # noqa: F401
