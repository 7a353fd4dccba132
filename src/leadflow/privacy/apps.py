from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "leadflow.privacy"
    label = "privacy"
    verbose_name = "Backups and personal data"
