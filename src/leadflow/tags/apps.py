from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "leadflow.tags"
    label = "tags"
