from django.apps import AppConfig


class TimelineConfig(AppConfig):
    name = "leadflow.timeline"
    label = "timeline"
