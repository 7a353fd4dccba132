"""The client: a won lead's person, with its leads kept as history under it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ClientQuerySet(models.QuerySet):
    def visible_to(self, user) -> ClientQuerySet:
        """Clients `user` may see: admins all; managers and `view_all_leads` holders all of
        their projects; agents the clients they own."""
        if user is None or not user.is_authenticated:
            return self.none()
        if user.is_admin:
            return self
        memberships = user.memberships_by_project().values()
        full = [m.project_id for m in memberships if m.role == "manager" or m.view_all_leads]
        partial = [m.project_id for m in memberships if m.project_id not in full]
        condition = Q(project_id__in=full) if full else Q(pk__in=[])
        if partial:
            condition |= Q(project_id__in=partial, owner_id=user.pk)
        return self.filter(condition)


class Client(models.Model):
    """Created by converting a lead, whose project, owner, source, bucket label and affiliate
    ID it inherits; further converted or upsell leads of the same person link to it."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="clients", db_index=False
    )
    name = models.CharField(max_length=200)
    email = models.CharField(max_length=254, blank=True)
    email_key = models.CharField(max_length=254, blank=True)
    phones = models.JSONField(default=list, blank=True)
    company = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )
    source = models.ForeignKey("projects.Source", on_delete=models.PROTECT, related_name="+")
    bucket_label = models.CharField(max_length=200, blank=True)
    affiliate_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ClientQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["project", "created_at", "id"], name="client_project_created"),
            models.Index(fields=["owner", "created_at", "id"], name="client_owner_created"),
            models.Index(fields=["created_at", "id"], name="client_created"),
            models.Index(fields=["email_key"], opclasses=["varchar_pattern_ops"],
                         name="client_email_key"),
        ]

    def __str__(self) -> str:
        return self.name
