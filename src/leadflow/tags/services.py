"""Tag use cases: configure tags and tag rules, add and remove a lead's tags, request a change
of a non-modifiable tag and decide such requests.

Every path that puts a tag on a lead (a manager directly, an owner on a modifiable tag, an
approved request, the bulk action) goes through `_apply`, which records the change and then
runs the tag's rules. Rule actions go through their own services (unassign, retire_lead) as
the system, each recording its own events after TAG_RULE_APPLIED.

Loops: the rules run for one application share a chain of the rules already run (a context
variable). A rule runs at most once per chain, so an action that ends up applying a tag
again — directly or through other rules — never sets off the same rule a second time."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from leadflow.accounts import access as account_access
from leadflow.accounts import services as accounts
from leadflow.accounts.models import Membership, Role
from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, ErrorCollector, PermissionDenied, ValidationFailed
from leadflow.crm.access import check_lead_action
from leadflow.crm.models import Lead
from leadflow.projects.models import Project
from leadflow.tags.access import tags_directly
from leadflow.tags.models import (
    ChangeAction,
    ChangeRequest,
    ChangeState,
    LeadTag,
    RuleAction,
    Tag,
    TagRule,
    tag_key,
)
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

MAX_NAMES = 50
MAX_REASON = 2000
# Rule actions are the system's, whoever applied the tag: an agent's modifiable tag may
# unassign the lead although the agent could not.
RULE_ACTOR = Actor(None, "job")

_rule_chain: ContextVar[set[int] | None] = ContextVar("tag_rule_chain", default=None)


# --- configuration: tags ---------------------------------------------------------------------


def _check_tag_name(name: Any, errors: ErrorCollector) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        errors.add("name", "required", "Name is required.")
    elif len(name) > 100:
        errors.add("name", "too_long", "At most 100 characters.")
    elif "\x00" in name or "," in name:
        # Commas separate names wherever several are typed in one field.
        errors.add("name", "invalid", "A tag name cannot contain a comma or a NUL character.")
    return name


def _save_unique(obj, fields: list[str] | None = None):
    try:
        with transaction.atomic():
            obj.save(update_fields=fields)
    except IntegrityError:
        if obj.pk is not None and fields is not None:
            obj.refresh_from_db()
        raise Conflict("A tag with this name exists in the project already.", code="exists",
                       field="name")
    return obj


def create_tag(project: Project, name: str, *, actor: Actor, is_modifiable: bool = True) -> Tag:
    """Define a tag of a project (managers). Names are unique per project, whatever their case.
    Errors: NotFound (not a member), PermissionDenied, ValidationFailed, Conflict (`exists`)."""
    account_access.require_manager(actor, project.pk)
    errors = ErrorCollector()
    name = _check_tag_name(name, errors)
    errors.raise_if_any()
    tag = Tag(project=project, name=name, key=tag_key(name), is_modifiable=bool(is_modifiable))
    return _save_unique(tag)


def update_tag(tag: Tag, *, actor: Actor, name: str | None = None,
               is_modifiable: bool | None = None) -> Tag:
    """Rename a tag or change whether agents may modify it (managers). Leads keep it under its
    new name. Errors: PermissionDenied, ValidationFailed, Conflict (`exists`)."""
    account_access.require_manager(actor, tag.project_id)
    errors = ErrorCollector()
    fields = []
    if name is not None:
        tag.name = _check_tag_name(name, errors)
        tag.key = tag_key(tag.name)
        fields += ["name", "key"]
    if is_modifiable is not None:
        tag.is_modifiable = bool(is_modifiable)
        fields.append("is_modifiable")
    if errors.errors:
        tag.refresh_from_db()
        errors.raise_if_any()
    return _save_unique(tag, fields) if fields else tag


def delete_tag(tag: Tag, *, actor: Actor) -> None:
    """Delete a tag no lead carries and no pending change request names (managers); its rules
    and decided requests go with it (the leads' timelines keep their story).
    Errors: PermissionDenied, Conflict (`in_use`)."""
    account_access.require_manager(actor, tag.project_id)
    try:
        with transaction.atomic():
            if ChangeRequest.objects.filter(tag=tag, state=ChangeState.PENDING).exists():
                raise ProtectedError("pending change requests", set())
            ChangeRequest.objects.filter(tag=tag).delete()
            tag.delete()
    except ProtectedError:
        raise Conflict("Leads or pending change requests still use this tag; remove it from "
                       "them first.", code="in_use")


# --- configuration: tag rules ----------------------------------------------------------------

RULE_FIELDS = ("tag", "action", "notify_owner", "notify_managers", "notify_users", "message",
               "active")


def _rule_values(project_id: int, changes: dict, errors: ErrorCollector) -> dict:
    values: dict[str, Any] = {}
    if "tag" in changes:
        tag = changes["tag"]
        if not isinstance(tag, Tag) or tag.project_id != project_id:
            errors.add("tag", "invalid", "Choose a tag of this project.")
        values["tag"] = tag
    if "action" in changes:
        if changes["action"] not in RuleAction.values:
            errors.add("action", "invalid",
                       f"Action must be one of: {', '.join(RuleAction.values)}.")
        values["action"] = changes["action"]
    for name in ("notify_owner", "notify_managers", "active"):
        if name in changes:
            values[name] = bool(changes[name])
    if "message" in changes:
        message = (changes["message"] or "").strip()
        if len(message) > 500:
            errors.add("message", "too_long", "At most 500 characters.")
        values["message"] = message
    if "notify_users" in changes:
        ids = list(dict.fromkeys(changes["notify_users"] or []))
        members = set(Membership.objects.filter(project_id=project_id, user_id__in=ids,
                                                user__is_active=True)
                      .values_list("user_id", flat=True))
        if set(ids) - members:
            errors.add("notify_users", "invalid", "Only active members of the project can be "
                       "notified.")
        values["notify_users"] = ids
    return values


def _check_notify(rule_values: dict, errors: ErrorCollector) -> None:
    if rule_values.get("action") == RuleAction.NOTIFY and not (
        rule_values.get("notify_owner") or rule_values.get("notify_managers")
        or rule_values.get("notify_users")
    ):
        errors.add("notify_users", "required", "Say whom to notify: the owner, the managers "
                   "or chosen users.")


def create_tag_rule(project: Project, *, actor: Actor, tag: Tag, action: str,
                    **options: Any) -> TagRule:
    """Make a rule: when `tag` is applied to a lead of the project, run `action` (unassign,
    retire, notify). Managers only. Errors: PermissionDenied, ValidationFailed."""
    account_access.require_manager(actor, project.pk)
    unknown = set(options) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown rule options: {', '.join(sorted(unknown))}")
    errors = ErrorCollector()
    values = _rule_values(project.pk, {"tag": tag, "action": action, **options}, errors)
    _check_notify(values, errors)
    errors.raise_if_any()
    users = values.pop("notify_users", [])
    with transaction.atomic():
        rule = TagRule.objects.create(project=project, **values)
        rule.notify_users.set(users)
    return rule


def update_tag_rule(rule: TagRule, *, actor: Actor, **changes: Any) -> TagRule:
    """Change a rule (managers). Errors: PermissionDenied, ValidationFailed."""
    account_access.require_manager(actor, rule.project_id)
    errors = ErrorCollector()
    values = _rule_values(rule.project_id, changes, errors)
    merged = {"action": rule.action, "notify_owner": rule.notify_owner,
              "notify_managers": rule.notify_managers,
              "notify_users": list(rule.notify_users.values_list("pk", flat=True)), **values}
    _check_notify(merged, errors)
    errors.raise_if_any()
    users = values.pop("notify_users", None)
    with transaction.atomic():
        for key, value in values.items():
            setattr(rule, key, value)
        if values:
            rule.save(update_fields=[("tag" if k == "tag" else k) for k in values])
        if users is not None:
            rule.notify_users.set(users)
    return rule


def delete_tag_rule(rule: TagRule, *, actor: Actor) -> None:
    """Delete a rule (managers). Errors: PermissionDenied."""
    account_access.require_manager(actor, rule.project_id)
    rule.delete()


# --- a lead's tags ---------------------------------------------------------------------------


@dataclass
class TagChange:
    """What a tag change did: the lead as it is now, the tags added and removed, and the
    change requests now waiting for a manager (new or already pending)."""

    lead: Lead
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    change_requests: list[ChangeRequest] = field(default_factory=list)


def check_tag_names(add: Any, remove: Any) -> tuple[list[str], list[str]]:
    """The shape of an add/remove pair: lists of at most MAX_NAMES names, not both empty, no
    name in both. Errors: ValidationFailed."""
    errors = ErrorCollector()
    lists = {}
    for name, value in (("add", add), ("remove", remove)):
        value = [] if value is None else value
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            errors.add(name, "invalid", "Give a list of tag names.")
            value = []
        elif len(value) > MAX_NAMES:
            errors.add(name, "too_many", f"At most {MAX_NAMES} tags at once.")
        elif any(len(v) > 100 or "\x00" in v for v in value):
            errors.add(name, "invalid", "A tag name has at most 100 characters and no NUL.")
            value = []
        lists[name] = [v.strip() for v in value if v.strip()]
    if not errors.errors and not lists["add"] and not lists["remove"]:
        errors.add("add", "required", "Name at least one tag to add or remove.")
    both = {tag_key(n) for n in lists["add"]} & {tag_key(n) for n in lists["remove"]}
    if both:
        errors.add("remove", "contradictory", "A tag cannot be added and removed at once.")
    errors.raise_if_any()
    return lists["add"], lists["remove"]


def _resolve(project_id: int, add: list[str], remove: list[str]) -> tuple[list[Tag], list[Tag]]:
    """The project's tags named in `add` and `remove`; an unknown name is a field error."""
    keys = {tag_key(n) for n in [*add, *remove]}
    found = {t.key: t for t in Tag.objects.filter(project_id=project_id, key__in=keys)}
    errors = ErrorCollector()
    resolved: dict[str, list[Tag]] = {}
    for field_name, names in (("add", add), ("remove", remove)):
        tags = []
        for name in names:
            tag = found.get(tag_key(name))
            if tag is None:
                errors.add(field_name, "unknown_tag", f"No tag '{name}' in this project.")
            elif tag not in tags:
                tags.append(tag)
        resolved[field_name] = tags
    errors.raise_if_any()
    return resolved["add"], resolved["remove"]


def change_lead_tags(lead: Lead, *, actor: Actor, add: Iterable[str] = (),
                     remove: Iterable[str] = ()) -> TagChange:
    """Add and remove tags of a lead by name (DESIGN §2, tags).

    Managers (and `manage_leads` holders) apply any tag at once. The lead's owner applies
    modifiable tags at once; for each non-modifiable tag they touch, a change request waits
    for the project's managers (who are notified), while the modifiable ones of the same call
    are applied. Adding a tag the lead has, or removing one it lacks, changes nothing and asks
    for nothing; asking again for a pending change returns that request.
    Timeline: TAG_ADDED / TAG_REMOVED per tag, TAG_CHANGE_REQUESTED per request, and the
    events of the rules a new tag sets off. Errors: PermissionDenied (not the owner),
    ValidationFailed (`unknown_tag`, `contradictory`, `required`, `too_many`)."""
    direct = tags_directly(actor, lead.project_id)
    if not direct:
        check_lead_action(actor, lead, "change")
    add_names, remove_names = check_tag_names(list(add), list(remove))
    to_add, to_remove = _resolve(lead.project_id, add_names, remove_names)
    batch = uuid.uuid4()
    with transaction.atomic():
        requests = []
        if not direct:
            current = set(LeadTag.objects.filter(lead=lead).values_list("tag_id", flat=True))
            wishes = [(t, ChangeAction.ADD) for t in to_add
                      if not t.is_modifiable and t.pk not in current]
            wishes += [(t, ChangeAction.REMOVE) for t in to_remove
                       if not t.is_modifiable and t.pk in current]
            requests = [_request_change(lead, tag, action, actor=actor, batch=batch)
                        for tag, action in wishes]
            to_add = [t for t in to_add if t.is_modifiable]
            to_remove = [t for t in to_remove if t.is_modifiable]
        change = _apply(lead, add=to_add, remove=to_remove, actor=actor, batch=batch)
    change.change_requests = requests
    return change


def tag_leads_directly(lead: Lead, *, actor: Actor, add: Iterable[str] = (),
                       remove: Iterable[str] = ()) -> TagChange:
    """The bulk action's tag change: like change_lead_tags, for managers only (nothing is
    ever requested). Errors: PermissionDenied, ValidationFailed."""
    if not tags_directly(actor, lead.project_id):
        raise PermissionDenied("Only a manager may tag many leads at once.")
    return change_lead_tags(lead, actor=actor, add=add, remove=remove)


def _apply(lead: Lead, *, add: list[Tag], remove: list[Tag], actor: Actor, batch,
           reason: str = "") -> TagChange:
    """Put `add` on the lead and take `remove` off, recording each real change, then run the
    rules of the tags that were added. Must run inside the caller's transaction."""
    now = timezone.now()
    owner_id = lead.owner_id
    added, removed = [], []
    have = set(LeadTag.objects.filter(lead=lead, tag__in=[*add, *remove])
               .values_list("tag_id", flat=True))
    for tag in add:
        if tag.pk in have:
            continue
        try:
            with transaction.atomic():
                LeadTag.objects.create(lead=lead, tag=tag, added_by=actor.user, added_at=now)
        except IntegrityError:  # added concurrently: it is there, once
            continue
        added.append(tag)
        timeline.record(TimelineKind.TAG_ADDED, actor=actor, lead=lead,
                        after={"tag": tag.name}, reason=reason, batch_id=batch)
    for tag in remove:
        if tag.pk not in have:
            continue
        if LeadTag.objects.filter(lead=lead, tag=tag).delete()[0]:
            removed.append(tag)
            timeline.record(TimelineKind.TAG_REMOVED, actor=actor, lead=lead,
                            before={"tag": tag.name}, reason=reason, batch_id=batch)
    if added or removed:
        Lead.objects.filter(pk=lead.pk).update(updated_at=now)
        lead.updated_at = now
        lead.__dict__.get("_prefetched_objects_cache", {}).pop("lead_tags", None)
    if added:
        lead = _run_rules(lead, added, owner_id=owner_id, batch=batch)
    return TagChange(lead=lead, added=[t.name for t in added], removed=[t.name for t in removed])


def _run_rules(lead: Lead, tags: list[Tag], *, owner_id: int | None, batch) -> Lead:
    """Run the active rules of the tags just applied, oldest rule first, each at most once per
    chain (see the module docstring)."""
    rules = list(TagRule.objects.filter(tag__in=tags, active=True).select_related("tag")
                 .prefetch_related("notify_users").order_by("id"))
    if not rules:
        return lead
    chain = _rule_chain.get()
    token = _rule_chain.set(set()) if chain is None else None
    chain = _rule_chain.get()
    try:
        for rule in rules:
            if rule.pk in chain:
                continue
            chain.add(rule.pk)
            lead = _run_rule(rule, lead, owner_id=owner_id, batch=batch)
    finally:
        if token is not None:
            _rule_chain.reset(token)
    return lead


def _run_rule(rule: TagRule, lead: Lead, *, owner_id: int | None, batch) -> Lead:
    from leadflow.crm.services.ownership import unassign
    from leadflow.crm.services.retirement import retire_lead

    reason = f"Tag rule #{rule.pk}: tag {rule.tag.name} applied."
    timeline.record(TimelineKind.TAG_RULE_APPLIED, actor=RULE_ACTOR, lead=lead,
                    after={"rule": rule.pk, "tag": rule.tag.name, "action": rule.action},
                    batch_id=batch)
    if rule.action == RuleAction.UNASSIGN:
        return unassign(lead, actor=RULE_ACTOR, reason=reason)
    if rule.action == RuleAction.RETIRE:
        return retire_lead(lead, actor=RULE_ACTOR, reason=reason)
    recipients = [u.pk for u in rule.notify_users.all()]
    if rule.notify_owner:
        recipients.append(owner_id)
    if rule.notify_managers:
        recipients += _manager_ids(lead.project_id)
    message = rule.message or f"Tag {rule.tag.name} was applied to lead {lead.name}."
    accounts.notify(recipients, "tag_rule", message, project_id=lead.project_id,
                    lead_id=lead.pk)
    return lead


def _manager_ids(project_id: int) -> list[int]:
    return list(Membership.objects.filter(project_id=project_id, role=Role.MANAGER,
                                          user__is_active=True)
                .order_by("user_id").values_list("user_id", flat=True))


# --- change requests -------------------------------------------------------------------------


def _request_change(lead: Lead, tag: Tag, action: str, *, actor: Actor, batch) -> ChangeRequest:
    pending = {"lead": lead, "tag": tag, "action": action, "state": ChangeState.PENDING}
    existing = ChangeRequest.objects.filter(**pending).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            request = ChangeRequest.objects.create(project_id=lead.project_id,
                                                   requested_by=actor.user, **pending)
    except IntegrityError:  # the same request made concurrently: that one stands
        return ChangeRequest.objects.get(**pending)
    timeline.record(TimelineKind.TAG_CHANGE_REQUESTED, actor=actor, lead=lead,
                    after={"tag": tag.name, "action": action, "change_request": request.pk},
                    batch_id=batch)
    who = actor.user.label if actor.user is not None else "The system"
    verb = "add" if action == ChangeAction.ADD else "remove"
    accounts.notify(_manager_ids(lead.project_id), "tag_change_requested",
                    f"{who} asks to {verb} tag {tag.name} on lead {lead.name}.",
                    project_id=lead.project_id, lead_id=lead.pk)
    return request


def approve_change_request(request: ChangeRequest, *, actor: Actor,
                           reason: str = "") -> ChangeRequest:
    """A manager approves a pending request: the tag change is applied through the same path
    as a manager's own (so its rules run), and the requester is notified. Deciding is a
    conditional update: of two concurrent decisions one wins, the other gets Conflict.
    Timeline: TAG_CHANGE_APPROVED, then TAG_ADDED / TAG_REMOVED unless the lead is already so.
    Errors: PermissionDenied, ValidationFailed, Conflict (`already_decided`)."""
    return _decide(request, actor=actor, state=ChangeState.APPROVED, reason=reason)


def reject_change_request(request: ChangeRequest, *, actor: Actor, reason: str) -> ChangeRequest:
    """A manager rejects a pending request with a reason; the lead keeps its tags and the
    requester is notified. Timeline: TAG_CHANGE_REJECTED.
    Errors: PermissionDenied, ValidationFailed (`required`), Conflict (`already_decided`)."""
    return _decide(request, actor=actor, state=ChangeState.REJECTED, reason=reason)


def _decide(request: ChangeRequest, *, actor: Actor, state: str, reason: str) -> ChangeRequest:
    if not tags_directly(actor, request.project_id):
        raise PermissionDenied("Only a manager of the project decides change requests.")
    reason = (reason or "").strip()
    if state == ChangeState.REJECTED and not reason:
        raise ValidationFailed.one("reason", "required", "Say why the change is rejected.")
    if len(reason) > MAX_REASON:
        raise ValidationFailed.one("reason", "too_long", f"At most {MAX_REASON:,} characters.")
    now = timezone.now()
    batch = uuid.uuid4()
    with transaction.atomic():
        won = ChangeRequest.objects.filter(pk=request.pk, state=ChangeState.PENDING).update(
            state=state, decided_by=actor.user, decided_at=now, reason=reason
        )
        if won != 1:
            raise Conflict("This change request has been decided already.",
                           code="already_decided")
        request.refresh_from_db()
        lead = Lead.objects.select_related("project", "pool", "stage").get(pk=request.lead_id)
        tag = request.tag
        approved = state == ChangeState.APPROVED
        kind = (TimelineKind.TAG_CHANGE_APPROVED if approved
                else TimelineKind.TAG_CHANGE_REJECTED)
        timeline.record(kind, actor=actor, lead=lead, reason=reason, batch_id=batch,
                        after={"tag": tag.name, "action": request.action,
                               "change_request": request.pk})
        if approved:
            adding = request.action == ChangeAction.ADD
            _apply(lead, add=[tag] if adding else [], remove=[] if adding else [tag],
                   actor=actor, batch=batch, reason=f"Change request #{request.pk} approved.")
        verb = "add" if request.action == ChangeAction.ADD else "remove"
        outcome = "approved" if approved else "rejected"
        accounts.notify([request.requested_by_id], f"tag_change_{outcome}",
                        f"Your request to {verb} tag {tag.name} on lead {lead.name} was "
                        f"{outcome}." + (f" Reason: {reason}" if reason else ""),
                        project_id=lead.project_id, lead_id=lead.pk)
    return request

