"""Imports (DESIGN §1 "Import"): an uploaded CSV or XLSX file, its header mapping, a duplicate
policy and an optional list, run as a job row (`jobs.Job`, same id) with a state, a heartbeat
and a cursor, so a killed import resumes at its last committed batch. Counts per outcome
(created, updated, moved, skipped, rejected) live in the job's `counts`; rejected rows are kept
with their original cells and a reason."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ImportPolicy(models.TextChoices):
    SKIP = "skip", "Skip duplicates"
    UPDATE = "update", "Update the existing lead"
    MOVE = "move", "Move the existing lead into the list, with the new values"
    KEEP_BOTH = "keep-both", "Keep both"


class Outcome(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    MOVED = "moved", "Moved"
    SKIPPED = "skipped", "Skipped"
    REJECTED = "rejected", "Rejected"


OUTCOMES = [o.value for o in Outcome]


class Import(models.Model):
    """One import of a file into a project. Its id is its job's id. `targets` holds, per file
    column in order, the field it fills ("" for none); `suggested` what Leadflow proposed.
    `lead_list` is the chosen list (created by the first batch when `list_name` names none
    yet). `warnings` counts each warning message (unknown source or status values and the
    like). `batch_id` is shared by the timeline events of the whole import."""

    job = models.OneToOneField(
        "jobs.Job", primary_key=True, on_delete=models.CASCADE, related_name="import_run"
    )
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    filename = models.CharField(max_length=255)
    stored_name = models.CharField(max_length=100)
    file_format = models.CharField(max_length=8)
    encoding = models.CharField(max_length=32, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    columns = models.JSONField(default=list)
    targets = models.JSONField(default=list)
    suggested = models.JSONField(default=list)
    policy = models.CharField(max_length=16, choices=ImportPolicy.choices,
                              default=ImportPolicy.SKIP)
    list_name = models.CharField(max_length=200, blank=True)
    lead_list = models.ForeignKey(
        "lists.LeadList", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dry_run = models.BooleanField(default=False)
    warnings = models.JSONField(default=dict, blank=True)
    batch_id = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["created_by", "created_at"], name="import_creator_created"),
        ]

    def __str__(self) -> str:
        return f"import #{self.pk} of {self.filename}"

    @property
    def mapping(self) -> dict[str, str]:
        """Column name → field, for the mapped columns."""
        return {c: t for c, t in zip(self.columns, self.targets, strict=False) if t}


class ImportRejection(models.Model):
    """A rejected row: its number in the file (the header is row 1), its cells as read, and
    why. Written in the transaction of its batch, so a resumed import never repeats one."""

    import_run = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="rejections",
                                   db_index=False)
    row_number = models.PositiveIntegerField()
    cells = models.JSONField(default=list)
    reason = models.TextField()

    class Meta:
        indexes = [
            models.Index(fields=["import_run", "row_number"], name="importrejection_row"),
        ]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.reason}"
