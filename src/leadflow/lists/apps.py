from django.apps import AppConfig


class ListsConfig(AppConfig):
    name = "leadflow.lists"
    label = "lists"
