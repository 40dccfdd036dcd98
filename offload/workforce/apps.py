from django.apps import AppConfig


class WorkforceConfig(AppConfig):
    name = "offload.workforce"
    label = "workforce"
    verbose_name = "Workforce planning"

    def ready(self) -> None:
        # Registers the workforce models with the visibility rules.
        from offload.workforce import forecast_rules, schedule_rules  # noqa: F401
