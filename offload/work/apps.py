from django.apps import AppConfig


class WorkConfig(AppConfig):
    name = "offload.work"
    label = "work"
    verbose_name = "Work items"

    def ready(self) -> None:
        from offload.work import visibility_rules  # noqa: F401
