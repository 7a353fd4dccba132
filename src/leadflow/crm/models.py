"""The lead: the record a team works."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone as dj_timezone

from leadflow.projects.models import OPEN_STATUSES, Status

MAX_PHONES = 5


class LeadQuerySet(models.QuerySet):
    def visible_to(self, user, *, now=None) -> LeadQuerySet:
        """Leads `user` may see (DESIGN §2): admins all; managers and `view_all_leads` holders all
        of their projects; agents their own, those they hold a live claim on, those offered to
        them now, and unassigned leads of their pools. Merged-away leads are history, reached
        through the survivor."""
        qs = self.filter(merged_into__isnull=True)
        if user is None or not user.is_authenticated:
            return qs.none()
        if user.is_admin:
            return qs
        now = now or dj_timezone.now()
        full, partial = _whole_and_partial_projects(user)
        condition = Q(project_id__in=full) if full else Q(pk__in=[])
        if partial:
            from leadflow.projects.models import Pool
            from leadflow.routing.models import OfferRecipient, live_recipient_q

            my_pools = Pool.members.through.objects.filter(user_id=user.pk).values("pool_id")
            offered = OfferRecipient.objects.filter(
                live_recipient_q(now), user_id=user.pk
            ).values("offer__lead_id")
            condition |= Q(project_id__in=partial) & (
                Q(owner_id=user.pk)
                | Q(claimed_by_id=user.pk, claimed_until__gt=now)
                | (Q(pool_id__in=my_pools) & unassigned_q(now))
                | (Q(offer_until__gt=now) & Q(pk__in=offered))
            )
        return qs.filter(condition)

    def unassigned(self, *, now=None) -> LeadQuerySet:
        return self.filter(unassigned_q(now or dj_timezone.now()))


def _whole_and_partial_projects(user) -> tuple[list[int], list[int]]:
    """The projects whose leads `user` sees all of (manager, `view_all_leads`), and the others."""
    memberships = user.memberships_by_project().values()
    full = [m.project_id for m in memberships if m.role == "manager" or m.view_all_leads]
    partial = [m.project_id for m in memberships if m.project_id not in full]
    return full, partial


def sees_part_of_projects(user) -> bool:
    """Whether `visible_to(user)` keeps only an agent's share of some project's leads (which
    thins out a search walking a list's index)."""
    if user is None or not user.is_authenticated or user.is_admin:
        return False
    return bool(_whole_and_partial_projects(user)[1])


def unassigned_q(now) -> Q:
    """The one unassigned predicate: no owner, no live claim and no live offer."""
    return (
        Q(owner__isnull=True)
        & (Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        & (Q(offer_until__isnull=True) | Q(offer_until__lte=now))
    )


class Lead(models.Model):
    """A person a team works, in one project and exactly one pool.

    `status` is derived from `stage` and written only with it. `source` is stamped at creation
    and never changes. Search goes through `email_key`, the phone duplicate keys and `LeadWord`.
    """

    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="leads", db_index=False
    )
    # contact
    name = models.CharField(max_length=200)
    email = models.CharField(max_length=254, blank=True)
    email_key = models.CharField(max_length=254, blank=True, db_index=False)
    phones = models.JSONField(default=list, blank=True)
    company = models.CharField(max_length=200, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    country = models.CharField(max_length=2, blank=True)
    language = models.CharField(max_length=16, blank=True)
    # attribution
    source = models.ForeignKey(
        "projects.Source", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    bucket = models.ForeignKey(
        "intake.Bucket", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False,
    )
    bucket_label = models.CharField(max_length=200, blank=True)
    affiliate_id = models.CharField(max_length=100, blank=True)
    utm = models.JSONField(default=dict, blank=True)
    # ownership
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )
    pool = models.ForeignKey(
        "projects.Pool", on_delete=models.PROTECT, related_name="leads", db_index=False
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Never searched by; not indexed, so that creating, assigning and retiring leads write one
    # index entry less (deleting a user, which clears it, reads the table once instead).
    original_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    # When the lead's open offer closes its last window (None: no offer). While it is in the
    # future the lead is not unassigned, whoever owns it.
    offer_until = models.DateTimeField(null=True, blank=True)
    # pipeline
    stage = models.ForeignKey(
        "projects.Stage", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    lost_reason = models.CharField(max_length=500, blank=True)
    next_call_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    custom = models.JSONField(default=dict, blank=True)
    # The client this lead belongs to: set when it is converted, or at creation for an upsell
    # lead of an existing client. `converted_at` marks the one conversion of the lead.
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="leads",
        db_index=False,
    )
    converted_at = models.DateTimeField(null=True, blank=True)
    # The lead's home list (at most one); deleting the list unlinks its leads.
    list = models.ForeignKey(
        "lists.LeadList", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )
    duplicates_checked_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    objects = LeadQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["created_at", "id"], name="lead_created"),
            models.Index(fields=["project", "created_at", "id"], name="lead_project_created"),
            models.Index(fields=["status", "created_at", "id"], name="lead_status_created"),
            models.Index(fields=["stage", "created_at", "id"], name="lead_stage_created"),
            models.Index(fields=["owner", "created_at", "id"], name="lead_owner_created"),
            models.Index(fields=["pool", "created_at", "id"], name="lead_pool_created"),
            models.Index(fields=["source", "created_at", "id"], name="lead_source_created"),
            # Columns most leads leave empty are indexed only where set (every query of them
            # names a value): a new lead, and a retired one on PostgreSQL, whose every update
            # writes a new entry into each index, skips these.
            models.Index(fields=["bucket", "created_at", "id"], name="lead_bucket_created",
                         condition=Q(bucket__isnull=False)),
            models.Index(fields=["client"], name="lead_client", condition=Q(client__isnull=False)),
            models.Index(fields=["merged_into"], name="lead_merged_into",
                         condition=Q(merged_into__isnull=False)),
            models.Index(fields=["list", "created_at", "id"], name="lead_list_created",
                         condition=Q(list__isnull=False)),
            models.Index(fields=["claimed_by", "claimed_until"], name="lead_claim",
                         condition=Q(claimed_by__isnull=False)),
            models.Index(fields=["claimed_until"], condition=Q(claimed_until__isnull=False),
                         name="lead_claim_until"),
            models.Index(fields=["next_call_at", "id"], name="lead_next_call"),
            models.Index(fields=["last_activity_at", "id"], name="lead_last_activity"),
            # The retirement sweep's walk (crm.services.retirement.due_sql): owned open leads
            # by the later of their assignment and last activity, so the leads due are one
            # range at the start of the index and the sweep reads no others.
            models.Index(
                Greatest("assigned_at", Coalesce("last_activity_at", "assigned_at")), F("id"),
                condition=Q(owner__isnull=False, retired_at__isnull=True,
                            status__in=[s.value for s in OPEN_STATUSES]),
                name="lead_retirement_quiet",
            ),
            models.Index(fields=["name", "id"], name="lead_name"),
            models.Index(fields=["id"], condition=Q(duplicates_checked_at__isnull=True),
                         name="lead_duplicates_unchecked"),
            models.Index(
                fields=["email_key"], opclasses=["varchar_pattern_ops"], name="lead_email_key"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    def live_claim(self, now) -> bool:
        return self.claimed_until is not None and self.claimed_until > now

    def live_offer(self, now) -> bool:
        return self.offer_until is not None and self.offer_until > now

    def is_unassigned(self, now) -> bool:
        return self.owner_id is None and not self.live_claim(now) and not self.live_offer(now)

    def is_fresh(self) -> bool:
        """Assigned and not touched since: what the owner's "Fresh leads" shows."""
        return self.owner_id is not None and (
            self.last_activity_at is None
            or (self.assigned_at is not None and self.last_activity_at < self.assigned_at)
        )


class LeadWord(models.Model):
    """One folded word of a lead's name or company: the word-prefix search index.

    A plain table serves SQLite and PostgreSQL with one query and survives SQLite's table
    rebuilds, where FTS5 triggers on the lead table would silently disappear."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+", db_index=False)
    word = models.CharField(max_length=100)

    class Meta:
        indexes = [
            models.Index(
                fields=["word", "lead"], opclasses=["varchar_pattern_ops", "int8_ops"],
                name="leadword_word",
            ),
        ]
        constraints = [
            # Also the index that finds a lead's words when they are rewritten.
            models.UniqueConstraint(fields=["lead", "word"], name="leadword_lead_word"),
        ]

    def __str__(self) -> str:
        return self.word
