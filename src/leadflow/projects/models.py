"""Configuration of a project: the project itself, its sources, pipeline stages and pools,
its custom field definitions, and the install-wide system settings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

DEFAULT_SOURCES = [
    "Website",
    "Referral",
    "LinkedIn",
    "Cold Call",
    "Email",
    "Event",
    "Other",
    "Manual",
    "Import",
]


class Project(models.Model):
    """A partition of the business. `default_region` reads national phone numbers."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    default_region = models.CharField(max_length=2, default="US")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Source(models.Model):
    """The channel that brought a lead; stamped at creation and never changed."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=100)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acceptance_minutes = models.PositiveIntegerField(null=True, blank=True)
    form_enabled = models.BooleanField(default=False)
    form_bucket = models.ForeignKey(
        "intake.Bucket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="source_project_name")
        ]

    def __str__(self) -> str:
        return self.name


class Status(models.TextChoices):
    NOT_CONTACTED = "NOT_CONTACTED", "Not contacted"
    CONTACTED = "CONTACTED", "Contacted"
    QUALIFIED = "QUALIFIED", "Qualified"
    CONVERTED = "CONVERTED", "Converted"
    LOST = "LOST", "Lost"


OPEN_STATUSES = (Status.NOT_CONTACTED, Status.CONTACTED, Status.QUALIFIED)
TERMINAL_STATUSES = (Status.CONVERTED, Status.LOST)
TERMINAL_POSITION = {Status.CONVERTED: 10_000, Status.LOST: 10_001}


class Stage(models.Model):
    """A pipeline step. Open stages are ordered by `position`; Converted and Lost are terminal,
    one each per project, outside the order."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices)
    position = models.PositiveIntegerField()
    # A retired open stage keeps its leads and place but is no longer a target of a move.
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="stage_project_name"),
            models.UniqueConstraint(
                fields=["project", "status"],
                condition=Q(status__in=["CONVERTED", "LOST"]),
                name="stage_one_terminal_each",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


DEFAULT_LOST_REASONS = [
    "Not interested",
    "Chose a competitor",
    "Too expensive",
    "No budget",
    "Unreachable",
    "Bad contact details",
    "Duplicate",
    "Other",
]

DEFAULT_CALL_OUTCOMES = [
    "Answered",
    "No answer",
    "Voicemail",
    "Busy",
    "Wrong number",
    "Call back later",
]


class ManagedChoice(models.Model):
    """One entry of a project's managed list, in the managers' order. An inactive entry stays
    on the records that carry it but is offered no more."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class LostReason(ManagedChoice):
    """Why a lead was lost: moving a lead to Lost names one of its project's active reasons."""

    class Meta(ManagedChoice.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="lostreason_project_name")
        ]


class CallOutcome(ManagedChoice):
    """How a call ended (Answered, No answer, …): a logged call names one of these."""

    class Meta(ManagedChoice.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="calloutcome_project_name")
        ]


class Pool(models.Model):
    """A group of agents eligible for a project's leads. One default pool per project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pools")
    name = models.CharField(max_length=100)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="pools", blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="pool_project_name"),
            models.UniqueConstraint(
                fields=["project"], condition=Q(is_default=True), name="pool_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Whole number"
    DECIMAL = "decimal", "Decimal number"
    DATE = "date", "Date"
    BOOLEAN = "boolean", "Yes / no"
    EMAIL = "email", "E-mail"
    PHONE = "phone", "Phone"
    CHOICE = "choice", "Choice"


class FieldDefinition(models.Model):
    """A custom field of a project's leads: `name` is its key in `Lead.custom` (fixed once
    created), `label` what people read. Values are validated and normalized against it wherever
    a lead's custom fields are set. A field that is not `nullable` is required when a lead is
    created. Each `unique` field is a duplicate key of its own; the `primary_key` fields
    together form one composite key; a blank value never collides."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE,
                                related_name="field_definitions")
    name = models.CharField(max_length=50)
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=16, choices=FieldType.choices, default=FieldType.TEXT)
    choices = models.JSONField(default=list, blank=True)
    nullable = models.BooleanField(default=True)
    unique = models.BooleanField(default=False)
    primary_key = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="fielddefinition_name")
        ]

    def __str__(self) -> str:
        return self.label or self.name

    @property
    def keyed(self) -> bool:
        """Whether the field takes part in duplicate keys."""
        return self.unique or self.primary_key


class DuplicateScope(models.TextChoices):
    PROJECT = "project", "Per project"
    GLOBAL = "global", "Whole install"


class SystemSettings(models.Model):
    """Install-wide settings, one row (pk=1). Changed by admins only."""

    retirement_days = models.PositiveIntegerField(default=30)
    claim_hours = models.PositiveIntegerField(default=24)
    offer_minutes = models.PositiveIntegerField(default=60)
    duplicate_scope = models.CharField(
        max_length=8, choices=DuplicateScope.choices, default=DuplicateScope.PROJECT
    )
    email_ignore_plus = models.BooleanField(default=False)
    email_ignore_gmail_dots = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "system settings"

    def __str__(self) -> str:
        return "System settings"

    @classmethod
    def load(cls) -> SystemSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj
