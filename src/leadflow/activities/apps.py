from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "leadflow.activities"
    label = "activities"
