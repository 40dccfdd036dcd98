from django.apps import AppConfig


class WorkConfig(AppConfig):
    name = "offload.work"
    label = "work"
    verbose_name = "Work items"

    def ready(self) -> None:
        # Registers the work models with the visibility rules and the app's sweeps.
        from offload.work import sweeps, visibility_rules, webhooks  # noqa: F401
