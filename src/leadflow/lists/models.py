"""Lead lists and campaigns (DESIGN §1).

A list is a named set of a project's leads; a lead has at most one home list (`Lead.list`).
A campaign (outbound calling or mailing) is assigned lists; it also has a list of its own, and
bulk-adding leads to a campaign puts them in that list. A disabled list keeps its leads out of
campaigns. Deleting a list unlinks its leads; it never deletes them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone as dj_timezone

from leadflow.core.normalize import fold


def list_key(name: str) -> str:
    """The form list and campaign names are compared in: trimmed, case and accents folded."""
    return fold((name or "").strip())


class LeadList(models.Model):
    """A named set of a project's leads. Its project never changes. `campaign` is set on the
    list a campaign owns (created with it, deleted with it)."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    name = models.CharField(max_length=200)
    key = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            # (key, project): names are unique per project whatever their case; also the index
            # `leadflow import --list NAME` looks a list up with.
            models.UniqueConstraint(fields=["key", "project"], name="leadlist_key_project"),
        ]
        indexes = [models.Index(fields=["project", "name"], name="leadlist_project_name")]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    """An outbound calling or mailing effort of a project, worked over the lists assigned to it
    and its own list (`own_list`)."""

    class Channel(models.TextChoices):
        CALL = "call", "Calling"
        MAIL = "mail", "Mailing"

    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    name = models.CharField(max_length=200)
    key = models.CharField(max_length=200)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.CALL)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    own_list = models.OneToOneField(
        LeadList, on_delete=models.PROTECT, related_name="own_campaign"
    )
    lists = models.ManyToManyField(LeadList, through="CampaignList", related_name="campaigns")
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "project"], name="campaign_key_project"),
        ]
        indexes = [models.Index(fields=["project", "name"], name="campaign_project_name")]

    def __str__(self) -> str:
        return self.name


class CampaignList(models.Model):
    """A list assigned to a campaign: who assigned it and when."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+",
                                 db_index=False)
    list = models.ForeignKey(LeadList, on_delete=models.CASCADE, related_name="+")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )
    assigned_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "list"], name="campaignlist_campaign_list"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.list_id}"
