from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "leadflow.imports"
    label = "imports"

    def ready(self) -> None:
        from leadflow.imports import services  # noqa: F401 - registers the "import" job step
