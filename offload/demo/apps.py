from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "offload.demo"
    label = "demo"
    verbose_name = "Demo data"
