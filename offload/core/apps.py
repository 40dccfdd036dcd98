from django.apps import AppConfig
from django.db.backends.signals import connection_created


class CoreConfig(AppConfig):
    name = "offload.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from offload.core import prepared

        connection_created.connect(prepared.connection_created, dispatch_uid="core.prepared")
