"""Who gets a lead: offices and groups that offers target, distribution rules with their
rotation state, open-lead counters, and offers with their recipients."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Team(models.Model):
    """A named set of a project's users that offers can target (an office or a group)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Office(Team):
    class Meta(Team.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="office_project_name")
        ]


class Group(Team):
    class Meta(Team.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="group_project_name")
        ]


class Method(models.TextChoices):
    ROUND_ROBIN = "round_robin", "Round robin"
    WEIGHTED = "weighted", "Weighted"
    LEAST_LOADED = "least_loaded", "Least loaded"


class DistributionRule(models.Model):
    """Conditions → a method over a pool's members. Rules are tried by `position`; the first
    active rule whose conditions all hold picks the owner. Empty conditions match anything.

    Rotation state lives on the row and changes in the routing transaction: `cursor` is the user
    picked last (round robin, and the tie-break of least loaded); `credits` holds the smooth
    weighted round robin's current weights by user id."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    pool = models.ForeignKey("projects.Pool", on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.ROUND_ROBIN)
    # conditions
    sources = models.JSONField(default=list, blank=True)
    buckets = models.JSONField(default=list, blank=True)
    countries = models.JSONField(default=list, blank=True)
    languages = models.JSONField(default=list, blank=True)
    custom = models.JSONField(default=dict, blank=True)
    # per-agent settings, by user id (as strings: JSON keys)
    weights = models.JSONField(default=dict, blank=True)
    caps = models.JSONField(default=dict, blank=True)
    agent_cap = models.PositiveIntegerField(null=True, blank=True)
    # rotation state
    cursor = models.BigIntegerField(null=True, blank=True)
    credits = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="rule_project_name")
        ]

    def __str__(self) -> str:
        return self.name


class OwnerLoad(models.Model):
    """How many open leads a user owns in a project: what least-loaded routing and caps read.
    Changed with every ownership or status change; `leadflow sweep` recounts it."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    open_leads = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="ownerload_project_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.project_id}: {self.open_leads}"


class OfferMode(models.TextChoices):
    ALL = "all", "All at once"
    SEQUENCE = "sequence", "One after another"


class OfferStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined by everyone"
    LAPSED = "lapsed", "Lapsed"
    CANCELLED = "cancelled", "Cancelled"


class Offer(models.Model):
    """A lead proposed to users. Every recipient's window is stored, so who may accept — and
    whether the offer has lapsed — is read from the clock, with no job needed. `status` stays
    `open` until accepted, declined by all, cancelled, or materialized as lapsed by the sweep;
    `ends_at` is when the last window closes."""

    lead = models.ForeignKey("crm.Lead", on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=8, choices=OfferMode.choices)
    status = models.CharField(max_length=10, choices=OfferStatus.choices,
                              default=OfferStatus.OPEN)
    acceptance_minutes = models.PositiveIntegerField()
    keep_original_owner = models.BooleanField(default=False)
    previous_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["lead", "created_at"], name="offer_lead"),
            models.Index(fields=["ends_at"], condition=Q(status="open"), name="offer_open_ends"),
        ]

    def __str__(self) -> str:
        return f"offer {self.pk} of lead {self.lead_id}"

    def effective_status(self, now) -> str:
        if self.status == OfferStatus.OPEN and self.ends_at <= now:
            return OfferStatus.LAPSED
        return self.status


class RecipientState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    LAPSED = "lapsed", "Lapsed"
    WAITING = "waiting", "Waiting for their turn"
    CLOSED = "closed", "Closed"


class OfferRecipient(models.Model):
    """One user an offer goes to, with their acceptance window. In `all` mode every window is
    the same; in `sequence` mode they follow one another, and a decline pulls the later ones
    forward."""

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    # pending until the user answers; time alone decides whether the window is live
    answer = models.CharField(max_length=10, blank=True)
    window_starts_at = models.DateTimeField()
    window_ends_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["offer", "user"], name="recipient_offer_user")
        ]
        indexes = [
            models.Index(fields=["user", "window_ends_at"], name="recipient_user_window"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on offer {self.offer_id}"

    def state(self, now) -> str:
        """pending (their window is live), waiting, accepted, declined, lapsed or closed."""
        if self.answer:
            return self.answer
        offer_status = self.offer.status
        if offer_status != OfferStatus.OPEN:
            return RecipientState.CLOSED
        if now < self.window_starts_at:
            return RecipientState.WAITING
        if now >= self.window_ends_at:
            return RecipientState.LAPSED
        return RecipientState.PENDING

    def is_live(self, now) -> bool:
        return self.state(now) == RecipientState.PENDING


def live_recipient_q(now, prefix: str = "") -> Q:
    """Recipients whose window is open now on an open offer, not yet answered."""
    return Q(**{
        f"{prefix}answer": "",
        f"{prefix}window_starts_at__lte": now,
        f"{prefix}window_ends_at__gt": now,
        f"{prefix}offer__status": OfferStatus.OPEN,
    })
