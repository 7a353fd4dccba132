"""What worker processes run. This module imports nothing of Django at import time: a spawned
worker unpickles `setup` before Django is set up, and then the tasks."""

from __future__ import annotations

import os


def setup() -> None:
    """Pool initializer: set Django up with the parent's settings (inherited environment)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
    import django

    django.setup()


def normalize(chunk, plan):
    from leadflow.imports.mapping import normalize_rows

    return normalize_rows(chunk, plan)
