"""Intake and identity: buckets, submissions and their attempts, duplicate keys, possible
duplicate pairs, and the per-address counters of the public forms."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class KeyKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    PHONE = "phone", "Phone"
    CUSTOM = "custom", "Unique custom field"
    COMPOSITE = "composite", "Composite primary key"


class DuplicateKey(models.Model):
    """`(scope, kind, value)` of one lead. At most one canonical row per key, enforced by a
    partial unique index, so two concurrent submissions of one person cannot both create a
    lead. Keep-both and upsell leads hold non-canonical keys."""

    scope = models.CharField(max_length=32)
    kind = models.CharField(max_length=16, choices=KeyKind.choices)
    value = models.CharField(max_length=320)
    lead = models.ForeignKey(
        "crm.Lead", on_delete=models.CASCADE, related_name="duplicate_keys", db_index=False
    )
    canonical = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "kind", "value"],
                condition=Q(canonical=True),
                name="duplicatekey_canonical_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["kind", "value"], opclasses=["varchar_pattern_ops", "varchar_pattern_ops"],
                name="duplicatekey_kind_value",
            ),
            models.Index(fields=["lead"], name="duplicatekey_lead"),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.kind}:{self.value}"


class BucketCreates(models.TextChoices):
    LEAD = "lead", "Lead"
    CLIENT = "client", "Client"


class Bucket(models.Model):
    """An intake channel of a project. Its API key is stored only as SHA-256. A deactivated
    bucket refuses submissions and keeps its history; editing it never touches processed
    submissions or their leads (the label is copied onto the lead at processing)."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="buckets"
    )
    name = models.CharField(max_length=100)
    label = models.CharField(max_length=200, blank=True)
    source = models.ForeignKey("projects.Source", on_delete=models.PROTECT, related_name="buckets")
    default_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    affiliate_id = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)
    creates = models.CharField(
        max_length=8, choices=BucketCreates.choices, default=BucketCreates.LEAD
    )
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="bucket_project_name")
        ]

    def __str__(self) -> str:
        return self.name


class SubmissionStatus(models.TextChoices):
    NEW = "new", "New"
    PROCESSED = "processed", "Processed"
    DUPLICATE = "duplicate", "Duplicate"
    REJECTED = "rejected", "Rejected"


class Submission(models.Model):
    """One person as it arrived: the raw payload verbatim (stored in the transaction that
    processes it, the processing in a savepoint, so a failed processing keeps it `new`), the
    normalized form, the outcome and links to the lead it created or duplicated. Stays in the
    bucket's history for audit."""

    bucket = models.ForeignKey(Bucket, on_delete=models.PROTECT, related_name="submissions",
                               db_index=False)
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT, related_name="+",
                                db_index=False)
    channel = models.CharField(max_length=10, default="api")
    # The source of a web form's submission (its lead's source); else the bucket's source.
    source = models.ForeignKey("projects.Source", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", db_index=False)
    raw = models.JSONField()
    normalized = models.JSONField(default=dict, blank=True)
    name = models.CharField(max_length=200, blank=True)
    email_key = models.CharField(max_length=254, blank=True)
    status = models.CharField(
        max_length=10, choices=SubmissionStatus.choices, default=SubmissionStatus.NEW
    )
    errors = models.JSONField(default=list, blank=True)
    lead = models.ForeignKey("crm.Lead", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", db_index=False)
    duplicate_of = models.ForeignKey("crm.Lead", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+", db_index=False)
    matched = models.JSONField(default=list, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bucket", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="submission_idempotency",
            ),
        ]
        indexes = [
            models.Index(fields=["bucket", "created_at", "id"], name="submission_bucket_time"),
            models.Index(fields=["bucket", "status", "created_at", "id"],
                         name="submission_bucket_status"),
            models.Index(fields=["status", "created_at"], name="submission_status_time"),
            models.Index(fields=["lead"], name="submission_lead"),
            models.Index(fields=["duplicate_of"], name="submission_duplicate_of"),
            models.Index(fields=["email_key"], opclasses=["varchar_pattern_ops"],
                         name="submission_email_key"),
        ]

    def __str__(self) -> str:
        return f"submission {self.pk} ({self.status})"


class SubmissionAttempt(models.Model):
    """One processing run of a submission and what it concluded."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE,
                                   related_name="attempt_rows")
    at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=SubmissionStatus.choices)
    errors = models.JSONField(default=list, blank=True)
    lead_id_value = models.BigIntegerField(null=True, blank=True)
    duplicate_of_id_value = models.BigIntegerField(null=True, blank=True)
    matched = models.JSONField(default=list, blank=True)
    actor_label = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"attempt {self.pk} of submission {self.submission_id}: {self.status}"


class PairState(models.TextChoices):
    OPEN = "open", "To review"
    MERGED = "merged", "Merged"
    DISMISSED = "dismissed", "Not a duplicate"


class PossibleDuplicate(models.Model):
    """Two leads of a project whose names (and companies) are alike but whose keys differ,
    flagged for a manager to merge or dismiss. `lead_a` is always the older (lower id)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    lead_a = models.ForeignKey("crm.Lead", on_delete=models.CASCADE, related_name="+")
    lead_b = models.ForeignKey("crm.Lead", on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    reason = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=PairState.choices, default=PairState.OPEN)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead_a", "lead_b"], name="possibleduplicate_pair"),
            models.CheckConstraint(condition=Q(lead_a__lt=models.F("lead_b")),
                                   name="possibleduplicate_ordered"),
        ]
        indexes = [
            models.Index(fields=["project", "state", "created_at"], name="possibledup_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_a_id}~{self.lead_b_id} ({self.state})"


class NameBlock(models.Model):
    """One blocking key of a checked lead's name: a name word and the first letter of another
    (`smith|j`), or a one-word name alone (`madonna|`). The possible-duplicate check compares a
    lead only with the most recent leads sharing one of its blocks, so a common name costs a
    bounded read. Written by the check alone, when it checks the lead; a lead whose name
    changes is checked again and its blocks rewritten."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+",
                                db_index=False)
    block = models.CharField(max_length=110)
    lead = models.ForeignKey("crm.Lead", on_delete=models.CASCADE, related_name="+",
                             db_index=False)

    class Meta:
        constraints = [
            # Also the index that finds a lead's blocks when they are rewritten or deleted.
            models.UniqueConstraint(fields=["lead", "block"], name="nameblock_lead_block"),
        ]
        indexes = [
            models.Index(fields=["project", "block", "lead"], name="nameblock_block"),
        ]

    def __str__(self) -> str:
        return f"{self.block} → {self.lead_id}"


class RateCounter(models.Model):
    """Requests of one key (e.g. a form and an address) in one fixed window. Kept in the
    database so every web process shares it."""

    key = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratecounter_window")
        ]

    def __str__(self) -> str:
        return f"{self.key}@{self.window_start}: {self.count}"
