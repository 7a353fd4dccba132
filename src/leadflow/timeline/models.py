"""The append-only history of leads and clients."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class TimelineKind(models.TextChoices):
    LEAD_CREATED = "LEAD_CREATED", "Lead created"
    LEAD_UPDATED = "LEAD_UPDATED", "Contact details changed"
    DUPLICATE_MERGED = "DUPLICATE_MERGED", "New details merged in from a duplicate entry"
    LEAD_REGISTERED_AGAIN = "LEAD_REGISTERED_AGAIN", "Registered again"
    LEADS_MERGED = "LEADS_MERGED", "Another lead merged into this one"
    LEAD_MERGED_INTO = "LEAD_MERGED_INTO", "Merged into another lead"
    POSSIBLE_DUPLICATE_DISMISSED = "POSSIBLE_DUPLICATE_DISMISSED", "Marked not a duplicate"
    STAGE_CHANGED = "STAGE_CHANGED", "Stage changed"
    LEAD_DELETED = "LEAD_DELETED", "Lead deleted"
    LEAD_ROUTED = "LEAD_ROUTED", "Routed automatically"
    LEAD_ASSIGNED = "LEAD_ASSIGNED", "Assigned"
    LEAD_UNASSIGNED = "LEAD_UNASSIGNED", "Unassigned"
    LEAD_RELEASED = "LEAD_RELEASED", "Handed back to the pool"
    LEAD_CLAIMED = "LEAD_CLAIMED", "Claimed"
    OWNERSHIP_TAKEN = "OWNERSHIP_TAKEN", "Ownership taken"
    CLAIM_LAPSED = "CLAIM_LAPSED", "Claim lapsed"
    OFFER_MADE = "OFFER_MADE", "Offered"
    OFFER_ACCEPTED = "OFFER_ACCEPTED", "Offer accepted"
    OFFER_DECLINED = "OFFER_DECLINED", "Offer declined"
    OFFER_LAPSED = "OFFER_LAPSED", "Offer lapsed"
    OFFER_CANCELLED = "OFFER_CANCELLED", "Offer cancelled"
    LEAD_RETIRED = "LEAD_RETIRED", "Retired"
    TAG_ADDED = "TAG_ADDED", "Tag added"
    TAG_REMOVED = "TAG_REMOVED", "Tag removed"
    TAG_CHANGE_REQUESTED = "TAG_CHANGE_REQUESTED", "Tag change requested"
    TAG_CHANGE_APPROVED = "TAG_CHANGE_APPROVED", "Tag change approved"
    TAG_CHANGE_REJECTED = "TAG_CHANGE_REJECTED", "Tag change rejected"
    TAG_RULE_APPLIED = "TAG_RULE_APPLIED", "Tag rule applied"
    ACTIVITY_LOGGED = "ACTIVITY_LOGGED", "Activity logged"
    NEXT_CALL_SET = "NEXT_CALL_SET", "Next call changed"
    LEAD_CONVERTED = "LEAD_CONVERTED", "Converted to a client"
    CLIENT_CREATED = "CLIENT_CREATED", "Client created"
    CLIENT_LEAD_ADDED = "CLIENT_LEAD_ADDED", "Lead added to the client"
    CLIENT_UPDATED = "CLIENT_UPDATED", "Client details changed"
    CLIENT_OWNER_CHANGED = "CLIENT_OWNER_CHANGED", "Client owner changed"
    LEAD_ADDED_TO_LIST = "LEAD_ADDED_TO_LIST", "Added to a list"
    LEAD_REMOVED_FROM_LIST = "LEAD_REMOVED_FROM_LIST", "Removed from its list"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Timeline events are append-only; use timeline.scrub() on deletion.")

    def delete(self):
        raise TypeError("Timeline events are never deleted.")


class TimelineEvent(models.Model):
    """One state change of a lead (or client): who, when, through which channel, before/after
    of the changed fields only, and why. Subjects are plain integer ids: no foreign key is ever
    rewritten, and events outlive their subject."""

    occurred_at = models.DateTimeField(default=timezone.now)
    # A TimelineKind value; no field choices, so a new kind needs no migration.
    kind = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    actor_label = models.CharField(max_length=254, blank=True)
    channel = models.CharField(max_length=10)
    project_id = models.BigIntegerField(null=True)
    lead_id = models.BigIntegerField(null=True)
    client_id = models.BigIntegerField(null=True)
    subject_label = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    batch_id = models.UUIDField(null=True, blank=True)
    scrubbed = models.BooleanField(default=False)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["lead_id", "occurred_at", "id"], name="timeline_lead_time"),
            # Most events have no client and the system's no actor: indexed only where set.
            models.Index(fields=["client_id", "occurred_at", "id"], name="timeline_client_time",
                         condition=Q(client_id__isnull=False)),
            models.Index(fields=["actor"], name="timeline_actor",
                         condition=Q(actor__isnull=False)),
            models.Index(fields=["kind", "occurred_at"], name="timeline_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} lead={self.lead_id} at {self.occurred_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.pop("_scrub", False):
            raise TypeError("Timeline events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Timeline events are never deleted.")


def new_batch_id() -> uuid.UUID:
    return uuid.uuid4()
