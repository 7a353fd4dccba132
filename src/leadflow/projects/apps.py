from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "leadflow.projects"
    label = "projects"
