from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "offload.core"
    label = "core"
    verbose_name = "Core"
