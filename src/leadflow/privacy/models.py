"""The audit record of an erasure: who erased a person's data in which project, when, and how
much of each kind was removed. It holds no personal data: the person is kept only as a
keyed hash of the identifier given (see `reference_of`), so the same e-mail or phone asked
about again yields the same reference, and the reference yields nothing back."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class IdentifierKind(models.TextChoices):
    EMAIL = "email", "E-mail address"
    PHONE = "phone", "Phone number"


class Erasure(models.Model):
    """One run of `erase_person` that removed something. `counts` maps each kind of record
    (leads, clients, submissions, activities, events_scrubbed, possible_duplicates,
    notifications, import_rows) to how many were removed or blanked."""

    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="+")
    erased_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    # The admin's e-mail as it was, so the record outlives the user.
    actor_label = models.CharField(max_length=254, blank=True)
    channel = models.CharField(max_length=10)
    erased_at = models.DateTimeField(default=timezone.now)
    identifier_kind = models.CharField(max_length=8, choices=IdentifierKind.choices)
    reference = models.CharField(max_length=64)
    counts = models.JSONField(default=dict)

    class Meta:
        ordering = ["-erased_at", "-id"]
        indexes = [models.Index(fields=["project", "erased_at"], name="erasure_project_time"),
                   models.Index(fields=["reference"], name="erasure_reference")]

    def __str__(self) -> str:
        return f"erasure {self.pk} in project {self.project_id}"
