"""Tags of a project, the tags a lead carries, change requests waiting for a manager, and
tag rules that act when a tag is applied."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from leadflow.core.normalize import fold


def tag_key(name: str) -> str:
    """The form tag names are compared in: trimmed, case and accents folded."""
    return fold((name or "").strip())


class Tag(models.Model):
    """A label of a project's leads, independent of the stage. A modifiable tag is added and
    removed by the lead's owner freely; touching a non-modifiable one needs a manager's
    approval. Names are unique per project, whatever their case (`key`)."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    name = models.CharField(max_length=100)
    key = models.CharField(max_length=100)
    is_modifiable = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # (key, project): also the index the leads filter `tag` looks names up with.
            models.UniqueConstraint(fields=["key", "project"], name="tag_key_project"),
        ]
        indexes = [models.Index(fields=["project", "name"], name="tag_project_name")]

    def __str__(self) -> str:
        return self.name


class LeadTag(models.Model):
    """A tag a lead carries: who applied it and when."""

    lead = models.ForeignKey("crm.Lead", on_delete=models.CASCADE, related_name="lead_tags",
                             db_index=False)
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="lead_tags",
                            db_index=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Also the index a lead's tags are read with.
            models.UniqueConstraint(fields=["lead", "tag"], name="leadtag_lead_tag"),
        ]
        indexes = [models.Index(fields=["tag", "lead"], name="leadtag_tag_lead")]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.tag_id}"


class ChangeAction(models.TextChoices):
    ADD = "add", "Add"
    REMOVE = "remove", "Remove"


class ChangeState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ChangeRequest(models.Model):
    """An agent's wish to add or remove a non-modifiable tag on their lead, waiting for a
    manager of the project. At most one request per lead, tag and action is pending."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    lead = models.ForeignKey("crm.Lead", on_delete=models.CASCADE, related_name="+",
                             db_index=False)
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="+", db_index=False)
    action = models.CharField(max_length=8, choices=ChangeAction.choices)
    state = models.CharField(max_length=10, choices=ChangeState.choices,
                             default=ChangeState.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "tag", "action"], condition=Q(state="pending"),
                name="changerequest_one_pending",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "state", "created_at", "id"],
                         name="changerequest_queue"),
            models.Index(fields=["lead", "created_at"], name="changerequest_lead"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.tag_id} on {self.lead_id} ({self.state})"


class RuleAction(models.TextChoices):
    UNASSIGN = "unassign", "Unassign the lead"
    RETIRE = "retire", "Retire the lead"
    NOTIFY = "notify", "Notify"


class TagRule(models.Model):
    """When `tag` is applied to a lead, run `action` on it: unassign, retire, or notify the
    owner, the project's managers and/or chosen users. A project's rules for a tag run in the
    order they were made."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="rules")
    action = models.CharField(max_length=10, choices=RuleAction.choices)
    notify_owner = models.BooleanField(default=False)
    notify_managers = models.BooleanField(default=False)
    notify_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    message = models.CharField(max_length=500, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["project", "id"], name="tagrule_project")]

    def __str__(self) -> str:
        return f"{self.tag_id}: {self.action}"
