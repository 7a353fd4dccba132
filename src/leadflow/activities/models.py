"""What agents do with a lead: calls (with an outcome and duration), notes and e-mails sent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ActivityKind(models.TextChoices):
    CALL = "call", "Call"
    NOTE = "note", "Note"
    EMAIL = "email", "E-mail sent"


# Every kind is meaningful: a call, an e-mail sent and a written note each show the lead is
# being worked, so each refreshes Lead.last_activity_at (what retirement and "fresh" read).
# Scheduling a next call is a plan, not work done, and refreshes nothing.
MEANINGFUL_KINDS = frozenset(ActivityKind.values)


class Activity(models.Model):
    """One logged activity on a lead. Never edited: a correction is another activity."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey("crm.Lead", on_delete=models.CASCADE, related_name="activities",
                             db_index=False)
    kind = models.CharField(max_length=8, choices=ActivityKind.choices)
    outcome = models.ForeignKey("projects.CallOutcome", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    body = models.TextField(blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=10, default="ui")
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["lead", "occurred_at", "id"], name="activity_lead_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on lead {self.lead_id}"
