from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "offload.contracts"
    label = "contracts"
    verbose_name = "Contracts and catalog"

    def ready(self) -> None:
        from offload.contracts import visibility_rules  # noqa: F401
