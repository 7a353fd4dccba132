from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "leadflow.crm"
    label = "crm"

    def ready(self) -> None:
        from leadflow.crm import services  # noqa: F401  (registers the bulk job's step)
