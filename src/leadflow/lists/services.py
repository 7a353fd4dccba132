"""Use cases of lead lists and campaigns: configure them (managers), put a lead on a list by
hand or in bulk, take it off, and assign lists to campaigns.

Lists and campaigns are configuration: like pools and stages, changing them records no
timeline event. A lead's home list is a field of the lead, so every change of it is recorded
on the lead's timeline (LEAD_ADDED_TO_LIST, LEAD_REMOVED_FROM_LIST) in the same transaction.

A campaign's leads are the leads of its own list and of its assigned lists, as long as that
list is enabled: a disabled list keeps its leads out of every campaign (`campaign_leads`)."""

from __future__ import annotations

import uuid
import zoneinfo
from functools import cache
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from leadflow.accounts.access import require_manager
from leadflow.accounts.models import Membership
from leadflow.core.actor import Actor
from leadflow.core.cache import config_changed
from leadflow.core.errors import Conflict, ErrorCollector, ValidationFailed
from leadflow.crm.models import Lead
from leadflow.lists.models import Campaign, CampaignList, LeadList, list_key
from leadflow.projects.models import Project
from leadflow.projects.services import _check_name
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

MAX_NAME = 200
MAX_DESCRIPTION = 5000
OWN_LIST_SUFFIX = " (campaign)"


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone(name: str) -> bool:
    """An IANA time zone name (`Europe/Berlin`, `UTC`)."""
    return name in _zones()


# --- validation ---------------------------------------------------------------------------


def _check_description(value: Any, errors: ErrorCollector) -> str:
    value = (value or "").strip() if isinstance(value, str | type(None)) else None
    if value is None:
        errors.add("description", "invalid", "Give a text.")
        return ""
    if len(value) > MAX_DESCRIPTION:
        errors.add("description", "too_long", f"At most {MAX_DESCRIPTION:,} characters.")
    elif "\x00" in value:
        errors.add("description", "invalid", "The description cannot contain a NUL character.")
    return value


def _check_timezone(value: Any, errors: ErrorCollector) -> str:
    value = (value or "").strip() if isinstance(value, str | type(None)) else None
    if value is None or (value and not is_timezone(value)):
        errors.add("timezone", "invalid", "Give an IANA time zone name such as Europe/Berlin.")
        return ""
    return value


def _check_owner(project_id: int, owner: Any, errors: ErrorCollector):
    """The owner of a list: an active member of its project, or nobody."""
    if owner is None:
        return None
    owner_id = getattr(owner, "pk", owner)
    found = (Membership.objects.filter(project_id=project_id, user_id=owner_id,
                                       user__is_active=True).select_related("user").first()
             if isinstance(owner_id, int) else None)
    if found is None:
        errors.add("owner", "not_member", "The owner must be an active member of the project.")
        return None
    return found.user


def _check_project(obj, project: Any) -> None:
    if project is not None and getattr(project, "pk", project) != obj.project_id:
        raise ValidationFailed.one("project", "immutable", "The project never changes.")


def _save(obj, fields: list[str] | None, what: str):
    try:
        with transaction.atomic():
            obj.save(update_fields=fields)
    except IntegrityError:
        if obj.pk is not None and fields is not None:
            obj.refresh_from_db()
        raise Conflict(f"A {what} with this name exists in the project already.",
                       code="exists", field="name")
    config_changed()
    return obj


# --- lists --------------------------------------------------------------------------------


def create_list(project: Project, *, actor: Actor, name: str, timezone_name: str = "",
                owner=None, description: str = "", enabled: bool = True) -> LeadList:
    """Make a list of a project (managers). Names are unique per project whatever their case;
    `timezone_name` is an IANA name or blank; `owner` an active member of the project.
    Errors: NotFound (not a member), PermissionDenied, ValidationFailed, Conflict (`exists`)."""
    require_manager(actor, project.pk)
    errors = ErrorCollector()
    name = _check_name(name, errors, MAX_NAME)
    zone = _check_timezone(timezone_name, errors)
    user = _check_owner(project.pk, owner, errors)
    description = _check_description(description, errors)
    errors.raise_if_any()
    now = timezone.now()
    lead_list = LeadList(project=project, name=name, key=list_key(name), timezone=zone,
                         owner=user, description=description, enabled=bool(enabled),
                         created_at=now, updated_at=now)
    return _save(lead_list, None, "list")


LIST_FIELDS = ("name", "timezone", "owner", "description", "enabled")


def update_list(lead_list: LeadList, *, actor: Actor, project=None, **changes: Any) -> LeadList:
    """Change a list's name, timezone, owner, description or enabled flag (managers). The
    project never changes: naming another one is ValidationFailed `immutable`. A campaign's
    own list is renamed with its campaign only.
    Errors: PermissionDenied, ValidationFailed, Conflict (`exists`)."""
    require_manager(actor, lead_list.project_id)
    unknown = set(changes) - set(LIST_FIELDS)
    if unknown:
        raise TypeError(f"Unknown list fields: {', '.join(sorted(unknown))}")
    _check_project(lead_list, project)
    errors = ErrorCollector()
    values: dict[str, Any] = {}
    if "name" in changes:
        if _own_campaign(lead_list) is not None:
            errors.add("name", "campaign_list", "A campaign's own list is named after it: "
                       "rename the campaign.")
        values["name"] = _check_name(changes["name"], errors, MAX_NAME)
        values["key"] = list_key(values["name"])
    if "timezone" in changes:
        values["timezone"] = _check_timezone(changes["timezone"], errors)
    if "owner" in changes:
        values["owner"] = _check_owner(lead_list.project_id, changes["owner"], errors)
    if "description" in changes:
        values["description"] = _check_description(changes["description"], errors)
    if "enabled" in changes:
        if changes["enabled"] is None:
            errors.add("enabled", "invalid", "Say true or false.")
        values["enabled"] = bool(changes["enabled"])
    errors.raise_if_any()
    if not values:
        return lead_list
    for key, value in values.items():
        setattr(lead_list, key, value)
    lead_list.updated_at = timezone.now()
    return _save(lead_list, [*values, "updated_at"], "list")


def _own_campaign(lead_list: LeadList) -> Campaign | None:
    return Campaign.objects.filter(own_list=lead_list).first()


def _unlink_all(lead_list: LeadList, *, actor: Actor, reason: str) -> int:
    """Take every lead off `lead_list` with one UPDATE, each with its event. Must run inside
    the caller's transaction."""
    leads = Lead.objects.filter(list_id=lead_list.pk)
    before = {"list": lead_list.name}
    rows = ((pk, project_id, name, before, None)
            for pk, project_id, name in leads.values_list("pk", "project_id", "name")
            .order_by("pk").iterator(chunk_size=2000))
    timeline.record_for_leads(TimelineKind.LEAD_REMOVED_FROM_LIST, rows, actor=actor,
                              reason=reason, batch_id=uuid.uuid4())
    return leads.update(list=None, updated_at=timezone.now())


def delete_list(lead_list: LeadList, *, actor: Actor) -> int:
    """Delete a list (managers). Its leads are unlinked, never deleted: one UPDATE takes them
    all off, and each gets LEAD_REMOVED_FROM_LIST. Campaigns it was assigned to lose it. A
    campaign's own list goes with its campaign only. Returns the number of leads unlinked.
    Errors: PermissionDenied, Conflict (`campaign_list`)."""
    require_manager(actor, lead_list.project_id)
    if _own_campaign(lead_list) is not None:
        raise Conflict("This is a campaign's own list: delete the campaign instead.",
                       code="campaign_list")
    with transaction.atomic():
        unlinked = _unlink_all(lead_list, actor=actor, reason=f"List {lead_list.name} deleted.")
        CampaignList.objects.filter(list=lead_list).delete()
        _delete_row(lead_list)
    config_changed()
    return unlinked


def _delete_row(lead_list: LeadList) -> None:
    """Delete the list's row alone. Model.delete() would run its SET_NULL on the leads a
    second time (an UPDATE over the lead table) after _unlink_all has already done it."""
    table = connection.ops.quote_name(LeadList._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [lead_list.pk])  # noqa: S608


# --- a lead's home list ---------------------------------------------------------------------


def add_lead_to_list(lead_list: LeadList, lead: Lead, *, actor: Actor, reason: str = "",
                     batch_id=None) -> Lead:
    """Make `lead_list` the lead's home list (managers). A lead has at most one: adding it
    moves it from the list it was on. The lead must belong to the list's project. Already on
    it: nothing changes and nothing is recorded. The change is a conditional UPDATE on the
    list the lead was read with, so of two concurrent moves one wins, the other gets Conflict.
    Timeline: LEAD_ADDED_TO_LIST (before: the list it left, if any).
    Errors: PermissionDenied, ValidationFailed (`other_project`), Conflict (`changed`)."""
    require_manager(actor, lead_list.project_id)
    if lead.project_id != lead_list.project_id:
        raise ValidationFailed.one("lead", "other_project",
                                   "The lead belongs to another project than the list.")
    if lead.list_id == lead_list.pk:
        return lead
    previous = LeadList.objects.filter(pk=lead.list_id).first() if lead.list_id else None
    now = timezone.now()
    with transaction.atomic():
        won = Lead.objects.filter(pk=lead.pk, list_id=lead.list_id,
                                  merged_into__isnull=True).update(list=lead_list, updated_at=now)
        if won != 1:
            raise Conflict("The lead changed meanwhile; reload and try again.", code="changed")
        timeline.record(TimelineKind.LEAD_ADDED_TO_LIST, actor=actor, lead=lead,
                        before={"list": previous.name} if previous else None,
                        after={"list": lead_list.name}, reason=reason, batch_id=batch_id)
    lead.list, lead.updated_at = lead_list, now
    return lead


def remove_lead_from_list(lead: Lead, *, actor: Actor, lead_list: LeadList | None = None,
                          reason: str = "") -> Lead:
    """Take the lead off its home list (managers). With `lead_list`, the lead must be on that
    list (else NotFound, as for a lead that is not there). Not on a list: nothing changes.
    Timeline: LEAD_REMOVED_FROM_LIST.
    Errors: PermissionDenied, NotFound, Conflict (`changed`)."""
    from leadflow.core.errors import NotFound

    require_manager(actor, lead.project_id)
    if lead_list is not None and lead.list_id != lead_list.pk:
        raise NotFound("The lead is not on this list.")
    if lead.list_id is None:
        return lead
    current = lead_list or LeadList.objects.get(pk=lead.list_id)
    now = timezone.now()
    with transaction.atomic():
        won = Lead.objects.filter(pk=lead.pk, list_id=current.pk).update(list=None,
                                                                          updated_at=now)
        if won != 1:
            raise Conflict("The lead changed meanwhile; reload and try again.", code="changed")
        timeline.record(TimelineKind.LEAD_REMOVED_FROM_LIST, actor=actor, lead=lead,
                        before={"list": current.name}, reason=reason)
    lead.list, lead.updated_at = None, now
    return lead


# --- campaigns ----------------------------------------------------------------------------


def _own_list_name(name: str) -> str:
    return f"{name[: MAX_NAME - len(OWN_LIST_SUFFIX)]}{OWN_LIST_SUFFIX}"


def _check_channel(channel: Any, errors: ErrorCollector) -> str:
    if channel not in Campaign.Channel.values:
        errors.add("channel", "invalid",
                   f"Channel must be one of: {', '.join(Campaign.Channel.values)}.")
    return channel


def create_campaign(project: Project, *, actor: Actor, name: str, channel: str = "call",
                    description: str = "", active: bool = True) -> Campaign:
    """Make a campaign (managers) together with its own list, named "<name> (campaign)",
    which bulk-adding leads to the campaign fills.
    Errors: PermissionDenied, ValidationFailed, Conflict (`exists`: the campaign's name, or a
    list already named like its own list)."""
    require_manager(actor, project.pk)
    errors = ErrorCollector()
    name = _check_name(name, errors, MAX_NAME)
    channel = _check_channel(channel, errors)
    description = _check_description(description, errors)
    errors.raise_if_any()
    now = timezone.now()
    own_name = _own_list_name(name)
    try:
        with transaction.atomic():
            own = LeadList.objects.create(
                project=project, name=own_name, key=list_key(own_name), created_at=now,
                updated_at=now, description=f"Leads added to campaign {name}.")
            campaign = Campaign.objects.create(
                project=project, name=name, key=list_key(name), channel=channel,
                description=description, active=bool(active), own_list=own, created_at=now,
                updated_at=now)
    except IntegrityError:
        raise Conflict(f"A campaign named {name}, or a list named {own_name}, exists in the "
                       "project already.", code="exists", field="name")
    config_changed()
    return campaign


CAMPAIGN_FIELDS = ("name", "channel", "description", "active")


def update_campaign(campaign: Campaign, *, actor: Actor, project=None,
                    **changes: Any) -> Campaign:
    """Change a campaign (managers); renaming it renames its own list. The project never
    changes (ValidationFailed `immutable`). Errors: PermissionDenied, ValidationFailed,
    Conflict (`exists`)."""
    require_manager(actor, campaign.project_id)
    unknown = set(changes) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"Unknown campaign fields: {', '.join(sorted(unknown))}")
    _check_project(campaign, project)
    errors = ErrorCollector()
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = _check_name(changes["name"], errors, MAX_NAME)
        values["key"] = list_key(values["name"])
    if "channel" in changes:
        values["channel"] = _check_channel(changes["channel"], errors)
    if "description" in changes:
        values["description"] = _check_description(changes["description"], errors)
    if "active" in changes:
        if changes["active"] is None:
            errors.add("active", "invalid", "Say true or false.")
        values["active"] = bool(changes["active"])
    errors.raise_if_any()
    if not values:
        return campaign
    now = timezone.now()
    for key, value in values.items():
        setattr(campaign, key, value)
    campaign.updated_at = now
    try:
        with transaction.atomic():
            campaign.save(update_fields=[*values, "updated_at"])
            if "name" in values:
                own = campaign.own_list
                own.name = _own_list_name(values["name"])
                own.key, own.updated_at = list_key(own.name), now
                own.save(update_fields=["name", "key", "updated_at"])
    except IntegrityError:
        campaign.refresh_from_db()
        campaign.own_list.refresh_from_db()
        raise Conflict("A campaign with this name, or a list named like its own list, exists "
                       "in the project already.", code="exists", field="name")
    config_changed()
    return campaign


def delete_campaign(campaign: Campaign, *, actor: Actor) -> int:
    """Delete a campaign (managers) and its own list; the leads of that list are unlinked
    (LEAD_REMOVED_FROM_LIST each), never deleted; assigned lists stay as they are.
    Returns the number of leads unlinked. Errors: PermissionDenied."""
    require_manager(actor, campaign.project_id)
    own = campaign.own_list
    with transaction.atomic():
        unlinked = _unlink_all(own, actor=actor, reason=f"Campaign {campaign.name} deleted.")
        CampaignList.objects.filter(campaign=campaign).delete()
        campaign.delete()
        CampaignList.objects.filter(list=own).delete()
        _delete_row(own)
    config_changed()
    return unlinked


def _lists_to_assign(campaign: Campaign, lists: list[LeadList]) -> list[LeadList]:
    errors = ErrorCollector()
    own_lists = set(Campaign.objects.filter(own_list__in=lists).values_list("own_list_id",
                                                                            flat=True))
    for lead_list in lists:
        if lead_list.project_id != campaign.project_id:
            errors.add("lists", "other_project",
                       f"List {lead_list.name} belongs to another project.")
        elif lead_list.pk in own_lists:
            errors.add("lists", "campaign_list",
                       f"List {lead_list.name} is a campaign's own list.")
    errors.raise_if_any()
    return list({lead_list.pk: lead_list for lead_list in lists}.values())


def assign_lists(campaign: Campaign, lists: list[LeadList], *, actor: Actor) -> int:
    """Assign lists of the campaign's project to it (managers); already assigned ones are
    left as they are. A campaign's own list cannot be assigned. Returns how many were new.
    Errors: PermissionDenied, ValidationFailed (`other_project`, `campaign_list`)."""
    require_manager(actor, campaign.project_id)
    lists = _lists_to_assign(campaign, lists)
    if not lists:
        return 0
    now = timezone.now()
    with transaction.atomic():
        have = set(CampaignList.objects.filter(campaign=campaign, list__in=lists)
                   .values_list("list_id", flat=True))
        new = [CampaignList(campaign=campaign, list=lead_list, assigned_by=actor.user,
                            assigned_at=now) for lead_list in lists if lead_list.pk not in have]
        CampaignList.objects.bulk_create(new, ignore_conflicts=True)
        if new:
            Campaign.objects.filter(pk=campaign.pk).update(updated_at=now)
    config_changed()
    return len(new)


def unassign_lists(campaign: Campaign, lists: list[LeadList], *, actor: Actor) -> int:
    """Take lists off the campaign (managers); their leads stay on them. Returns how many
    were assigned. Errors: PermissionDenied."""
    require_manager(actor, campaign.project_id)
    with transaction.atomic():
        removed, _ = CampaignList.objects.filter(
            campaign=campaign, list_id__in=[lead_list.pk for lead_list in lists]).delete()
        if removed:
            Campaign.objects.filter(pk=campaign.pk).update(updated_at=timezone.now())
    config_changed()
    return removed


def add_lead_to_campaign(campaign: Campaign, lead: Lead, *, actor: Actor,
                         reason: str = "") -> Lead:
    """Put the lead in the campaign's own list (its home list from now on; it leaves the list
    it was on). Timeline: LEAD_ADDED_TO_LIST. Errors: as add_lead_to_list."""
    return add_lead_to_list(campaign.own_list, lead, actor=actor,
                            reason=reason or f"Added to campaign {campaign.name}.")
