"""Identity: the duplicate keys every lead holds."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


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
