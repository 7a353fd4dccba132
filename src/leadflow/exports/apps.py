from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "leadflow.exports"
    label = "exports"

    def ready(self) -> None:
        from leadflow.exports import services  # noqa: F401  (registers the export job's step)
