from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "offload.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy and access"

    def ready(self) -> None:
        # Registers this app's models with the visibility rules and its sweeps.
        from offload.tenancy import sweeps, visibility_rules  # noqa: F401
