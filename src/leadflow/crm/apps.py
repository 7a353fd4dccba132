from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "leadflow.crm"
    label = "crm"
