from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "leadflow.core"
    label = "core"

    def ready(self):
        # Registers Leadflow's deployment checks (`check --deploy`).
        from leadflow.core import deploy  # noqa: F401
