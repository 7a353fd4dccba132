"""Configuration use cases: projects, sources, pools, stages (with retiring), the managed lists
of lost reasons and call outcomes, custom field definitions, and system settings."""

from __future__ import annotations

import uuid
from typing import Any

import phonenumbers
from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError
from django.utils import timezone
from django.utils.text import slugify

from leadflow.accounts import access
from leadflow.accounts.models import Membership
from leadflow.core.actor import Actor
from leadflow.core.cache import config_changed
from leadflow.core.errors import Conflict, ErrorCollector
from leadflow.projects import fields
from leadflow.projects.access import projects_visible_to
from leadflow.projects.models import (
    DEFAULT_CALL_OUTCOMES,
    DEFAULT_LOST_REASONS,
    DEFAULT_SOURCES,
    OPEN_STATUSES,
    TERMINAL_POSITION,
    CallOutcome,
    DuplicateScope,
    FieldDefinition,
    FieldType,
    LostReason,
    ManagedChoice,
    Pool,
    Project,
    Source,
    Stage,
    Status,
    SystemSettings,
)

DEFAULT_STAGES = [
    ("New", Status.NOT_CONTACTED),
    ("Contacted", Status.CONTACTED),
    ("Qualified", Status.QUALIFIED),
]


def _unique(fn, message: str, field: str = "name"):
    try:
        with transaction.atomic():
            result = fn()
    except IntegrityError:
        raise Conflict(message, code="exists", field=field)
    config_changed()
    return result


def _save_changes(obj, values: dict[str, Any], message: str, after=None):
    """Apply validated `values` to `obj` and save them; on a uniqueness conflict the object is
    reloaded, so the caller never holds values that were refused."""
    for key, value in values.items():
        setattr(obj, key, value)

    def save():
        obj.save(update_fields=[*values] or None)
        if after is not None:
            after()
        return obj

    try:
        return _unique(save, message)
    except Conflict:
        obj.refresh_from_db()
        raise


def _check_name(name: Any, errors: ErrorCollector, limit: int = 100) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        errors.add("name", "required", "Name is required.")
    elif len(name) > limit:
        errors.add("name", "too_long", f"At most {limit} characters.")
    elif "\x00" in name:
        # PostgreSQL text cannot hold NUL; SQLite would store it silently.
        errors.add("name", "invalid", "A name cannot contain a NUL character.")
    return name


def _check_region(region: str, errors: ErrorCollector) -> str:
    region = (region or "").strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        errors.add("default_region", "invalid", f"'{region}' is not an ISO 3166 country code.")
    return region


def create_project(
    name: str, *, actor: Actor, slug: str = "", default_region: str = "US",
    stages: list[tuple[str, str]] | None = None,
) -> Project:
    """Create a project with the nine default sources, a pipeline (open stages given or New,
    Contacted, Qualified, then the terminal Converted and Lost), a default pool and the default
    lost reasons and call outcomes (admins)."""
    access.require_admin(actor)
    errors = ErrorCollector()
    name = _check_name(name, errors, 200)
    slug = slugify(slug or name)[:60]
    if not slug:
        errors.add("slug", "required", "A slug is required.")
    region = _check_region(default_region, errors)
    errors.raise_if_any()

    def make() -> Project:
        project = Project.objects.create(name=name, slug=slug, default_region=region)
        Source.objects.bulk_create([Source(project=project, name=n) for n in DEFAULT_SOURCES])
        open_stages = stages or DEFAULT_STAGES
        Stage.objects.bulk_create(
            [
                Stage(project=project, name=n, status=s, position=i + 1)
                for i, (n, s) in enumerate(open_stages)
            ]
            + [
                Stage(project=project, name="Converted", status=Status.CONVERTED,
                      position=TERMINAL_POSITION[Status.CONVERTED]),
                Stage(project=project, name="Lost", status=Status.LOST,
                      position=TERMINAL_POSITION[Status.LOST]),
            ]
        )
        Pool.objects.create(project=project, name="Default", is_default=True)
        for model, names in ((LostReason, DEFAULT_LOST_REASONS),
                             (CallOutcome, DEFAULT_CALL_OUTCOMES)):
            model.objects.bulk_create(
                [model(project=project, name=n, position=i + 1) for i, n in enumerate(names)]
            )
        return project

    return _unique(make, f"A project with slug '{slug}' exists already.", "slug")


def update_project(project: Project, *, actor: Actor, name=None, default_region=None) -> Project:
    """Rename a project or change its default region (admins). The slug never changes."""
    access.require_admin(actor)
    errors = ErrorCollector()
    values = {}
    if name is not None:
        values["name"] = _check_name(name, errors, 200)
    if default_region is not None:
        values["default_region"] = _check_region(default_region, errors)
    errors.raise_if_any()
    return _save_changes(project, values, "Project exists already.")


def create_source(project: Project, name: str, *, actor: Actor, **options: Any) -> Source:
    """Add a source to a project (managers)."""
    access.require_manager(actor, project.pk)
    errors = ErrorCollector()
    name = _check_name(name, errors)
    values = _source_options(project, options, errors)
    errors.raise_if_any()
    return _unique(
        lambda: Source.objects.create(project=project, name=name, **values),
        f"Source '{name}' exists already.",
    )


def update_source(source: Source, *, actor: Actor, **changes: Any) -> Source:
    """Change a source's name, target user, acceptance period or form flag (managers)."""
    access.require_manager(actor, source.project_id)
    errors = ErrorCollector()
    if "name" in changes:
        changes["name"] = _check_name(changes["name"], errors)
    values = _source_options(source.project, changes, errors)
    errors.raise_if_any()
    return _save_changes(source, values, f"Source '{values.get('name', source.name)}' exists "
                         "already.")


def _source_options(project: Project, options: dict, errors: ErrorCollector) -> dict:
    values = {}
    for key, value in options.items():
        if key == "name":
            values["name"] = value
        elif key == "target_user":
            if value is not None and not Membership.objects.filter(
                project=project, user_id=value
            ).exists():
                errors.add("target_user", "not_member", "That user is not in this project.")
            values["target_user_id"] = value
        elif key == "acceptance_minutes":
            if value is not None and not (1 <= int(value) <= 60 * 24 * 30):
                errors.add("acceptance_minutes", "out_of_range", "1 minute to 30 days.")
            values["acceptance_minutes"] = value
        elif key == "form_enabled":
            values["form_enabled"] = bool(value)
        elif key == "form_bucket":
            from leadflow.intake.models import Bucket

            if value is not None and not Bucket.objects.filter(pk=value, project=project).exists():
                errors.add("form_bucket", "invalid", "That bucket is not in this project.")
            values["form_bucket_id"] = value
        else:
            errors.add(key, "unknown_field", f"Unknown field '{key}'.")
    return values


def _check_members(project: Project, member_ids: list[int], errors: ErrorCollector) -> list[int]:
    ids = sorted(set(member_ids))
    known = set(
        Membership.objects.filter(project=project, user_id__in=ids).values_list(
            "user_id", flat=True
        )
    )
    for missing in [i for i in ids if i not in known]:
        errors.add("members", "not_member", f"User {missing} is not in this project.")
    return ids


def create_pool(project: Project, name: str, *, actor: Actor, members: list[int] = ()) -> Pool:
    """Create a pool of agents in a project (managers)."""
    access.require_manager(actor, project.pk)
    errors = ErrorCollector()
    name = _check_name(name, errors)
    ids = _check_members(project, list(members), errors)
    errors.raise_if_any()

    def make() -> Pool:
        pool = Pool.objects.create(project=project, name=name)
        pool.members.set(ids)
        return pool

    return _unique(make, f"Pool '{name}' exists already.")


def update_pool(pool: Pool, *, actor: Actor, name=None, members=None) -> Pool:
    """Rename a pool or set its members (managers). Leads keep their pool and owner."""
    access.require_manager(actor, pool.project_id)
    errors = ErrorCollector()
    values = {}
    if name is not None:
        values["name"] = _check_name(name, errors)
    ids = _check_members(pool.project, list(members), errors) if members is not None else None
    errors.raise_if_any()
    return _save_changes(
        pool, values, f"Pool '{values.get('name', pool.name)}' exists already.",
        after=(lambda: pool.members.set(ids)) if ids is not None else None,
    )


def delete_pool(pool: Pool, *, actor: Actor) -> None:
    """Delete an empty, non-default pool (managers). A pool with leads, or one a distribution
    rule routes to, is Conflict."""
    access.require_manager(actor, pool.project_id)
    from leadflow.routing.models import DistributionRule

    if pool.is_default:
        raise Conflict("The default pool cannot be deleted.", code="default_pool")
    rules = list(DistributionRule.objects.filter(pool=pool).values_list("name", flat=True)[:3])
    if rules:
        raise Conflict(f"Distribution rules route to this pool ({', '.join(rules)}): give them "
                       "another pool or delete them first.", code="pool_in_rule")
    _delete_unused(pool, "Move the pool's leads to another pool first.", "pool_in_use")


def create_stage(project: Project, name: str, status: str, *, actor: Actor,
                 position: int | None = None) -> Stage:
    """Add an open stage (managers); it goes last unless a position is given."""
    access.require_manager(actor, project.pk)
    errors = ErrorCollector()
    name = _check_name(name, errors)
    if status not in OPEN_STATUSES:
        errors.add("status", "invalid", "An added stage maps to NOT_CONTACTED, CONTACTED or "
                   "QUALIFIED; Converted and Lost exist once.")
    if position is not None and not (1 <= position < TERMINAL_POSITION[Status.CONVERTED]):
        errors.add("position", "out_of_range", "Position must be 1 to 9999.")
    errors.raise_if_any()
    if position is None:
        top = Stage.objects.filter(project=project, status__in=OPEN_STATUSES).aggregate(
            m=Max("position"))["m"]
        position = (top or 0) + 1
    return _unique(
        lambda: Stage.objects.create(project=project, name=name, status=status,
                                     position=position),
        f"Stage '{name}' exists already.",
    )


def update_stage(stage: Stage, *, actor: Actor, name=None, status=None, position=None) -> Stage:
    """Rename, re-map or reorder a stage (managers). Terminal stages keep status and place.
    Leads on the stage take its new status in the same transaction."""
    from leadflow.crm.models import Lead

    access.require_manager(actor, stage.project_id)
    errors = ErrorCollector()
    values = {}
    if name is not None:
        values["name"] = _check_name(name, errors)
    if status is not None and status != stage.status:
        if stage.is_terminal or status not in OPEN_STATUSES:
            errors.add("status", "invalid", "Only open stages change status, among open ones.")
        values["status"] = status
    if position is not None and position != stage.position:
        if stage.is_terminal or not (1 <= position < TERMINAL_POSITION[Status.CONVERTED]):
            errors.add("position", "out_of_range", "Open stages take positions 1 to 9999.")
        values["position"] = position
    errors.raise_if_any()

    def relabel_leads() -> None:
        # Status is derived from the stage: leads on it follow in the same transaction.
        Lead.objects.filter(stage=stage).exclude(status=stage.status).update(
            status=stage.status, updated_at=timezone.now()
        )

    return _save_changes(stage, values, f"Stage '{values.get('name', stage.name)}' exists "
                         "already.", after=relabel_leads if "status" in values else None)


def move_stage(stage: Stage, *, actor: Actor, up: bool) -> Stage:
    """Swap an open stage with its neighbour and number the open stages 1..n (managers).
    Moving the first stage up or the last down changes nothing."""
    access.require_manager(actor, stage.project_id)
    if stage.is_terminal:
        raise Conflict("Converted and Lost stay at the end of the pipeline.",
                       code="terminal_stage")
    with transaction.atomic():
        ordered = list(
            Stage.objects.select_for_update()
            .filter(project_id=stage.project_id, status__in=OPEN_STATUSES)
            .order_by("position", "id")
        )
        index = next(i for i, s in enumerate(ordered) if s.pk == stage.pk)
        other = index - 1 if up else index + 1
        if not 0 <= other < len(ordered):
            return stage
        ordered[index], ordered[other] = ordered[other], ordered[index]
        for position, row in enumerate(ordered, start=1):
            if row.position != position:
                Stage.objects.filter(pk=row.pk).update(position=position)
    config_changed()
    stage.refresh_from_db()
    return stage


def delete_stage(stage: Stage, *, actor: Actor) -> None:
    """Delete an open stage no lead is on (managers). A stage with leads can be retired."""
    access.require_manager(actor, stage.project_id)
    if stage.is_terminal:
        raise Conflict("Converted and Lost cannot be deleted.", code="terminal_stage")
    if not stage.retired and not _other_active_open_stage(stage):
        raise Conflict("A pipeline keeps at least one open stage.", code="last_stage")
    _delete_unused(stage, "Move the stage's leads first, or retire the stage.", "stage_in_use")


def _other_active_open_stage(stage: Stage) -> bool:
    return Stage.objects.filter(
        project_id=stage.project_id, status__in=OPEN_STATUSES, retired_at__isnull=True
    ).exclude(pk=stage.pk).exists()


def retire_stage(stage: Stage, *, actor: Actor) -> Stage:
    """Retire an open stage (managers): its leads stay on it and keep its status, but no lead
    can be moved to it and new leads start on the first stage still in use. Retiring a retired
    stage changes nothing; the last open stage in use cannot be retired (Conflict)."""
    access.require_manager(actor, stage.project_id)
    if stage.is_terminal:
        raise Conflict("Converted and Lost cannot be retired.", code="terminal_stage")
    if stage.retired:
        return stage
    with transaction.atomic():
        # Lock the project's open stages, so two managers cannot retire the last two at once.
        list(Stage.objects.select_for_update().filter(project_id=stage.project_id,
                                                      status__in=OPEN_STATUSES))
        if not _other_active_open_stage(stage):
            raise Conflict("A pipeline keeps at least one open stage in use.",
                           code="last_stage")
        Stage.objects.filter(pk=stage.pk, retired_at__isnull=True).update(
            retired_at=timezone.now())
    stage.refresh_from_db()
    return stage


def restore_stage(stage: Stage, *, actor: Actor) -> Stage:
    """Put a retired stage back in use (managers), in its old place."""
    access.require_manager(actor, stage.project_id)
    if stage.retired:
        Stage.objects.filter(pk=stage.pk).update(retired_at=None)
        stage.refresh_from_db()
    return stage


# --- lost reasons and call outcomes -----------------------------------------------------------


def _create_choice(model: type[ManagedChoice], project: Project, name: str, *, actor: Actor,
                   label: str) -> ManagedChoice:
    access.require_manager(actor, project.pk)
    errors = ErrorCollector()
    name = _check_name(name, errors)
    errors.raise_if_any()

    def make():
        top = model.objects.filter(project=project).aggregate(m=Max("position"))["m"]
        return model.objects.create(project=project, name=name, position=(top or 0) + 1)

    return _unique(make, f"{label} '{name}' exists already.")


def _update_choice(entry: ManagedChoice, *, actor: Actor, label: str, name=None, active=None,
                   position=None) -> ManagedChoice:
    access.require_manager(actor, entry.project_id)
    errors = ErrorCollector()
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = _check_name(name, errors)
    if active is not None:
        values["active"] = bool(active)
    if position is not None:
        if not 1 <= position <= 10_000:
            errors.add("position", "out_of_range", "Position must be 1 to 10000.")
        values["position"] = position
    errors.raise_if_any()
    return _save_changes(entry, values, f"{label} '{values.get('name', entry.name)}' exists "
                         "already.")


def create_lost_reason(project: Project, name: str, *, actor: Actor) -> LostReason:
    """Add a reason to the project's list of lost reasons, last (managers)."""
    return _create_choice(LostReason, project, name, actor=actor, label="Lost reason")


def update_lost_reason(reason: LostReason, *, actor: Actor, **changes: Any) -> LostReason:
    """Rename, reorder, deactivate or reactivate a lost reason (managers). Leads lost for it
    keep the reason's name as it was; an inactive reason is offered no more."""
    return _update_choice(reason, actor=actor, label="Lost reason", **changes)


def delete_lost_reason(reason: LostReason, *, actor: Actor) -> None:
    """Remove a lost reason from the list (managers); lost leads keep their reason text."""
    access.require_manager(actor, reason.project_id)
    reason.delete()


def create_call_outcome(project: Project, name: str, *, actor: Actor) -> CallOutcome:
    """Add an outcome to the project's list of call outcomes, last (managers)."""
    return _create_choice(CallOutcome, project, name, actor=actor, label="Call outcome")


def update_call_outcome(outcome: CallOutcome, *, actor: Actor, **changes: Any) -> CallOutcome:
    """Rename, reorder, deactivate or reactivate a call outcome (managers). Logged calls keep
    it; an inactive outcome is offered no more."""
    return _update_choice(outcome, actor=actor, label="Call outcome", **changes)


def delete_call_outcome(outcome: CallOutcome, *, actor: Actor) -> None:
    """Delete a call outcome no logged call names (managers); one in use is Conflict: make it
    inactive instead."""
    access.require_manager(actor, outcome.project_id)
    try:
        with transaction.atomic():
            outcome.delete()
    except ProtectedError:
        raise Conflict("Calls were logged with this outcome: make it inactive instead.",
                       code="outcome_in_use")


def _delete_unused(obj, message: str, code: str) -> None:
    """Delete a pool or stage; leads protect it, so one still in use (even by a lead created a
    moment ago) is a Conflict, never a 500."""
    try:
        with transaction.atomic():
            obj.delete()
    except ProtectedError:
        raise Conflict(message, code=code)
    config_changed()


SETTINGS_FIELDS = {
    "retirement_days": (1, 3650),
    "claim_hours": (1, 24 * 30),
    "offer_minutes": (1, 60 * 24 * 30),
}


def update_settings(*, actor: Actor, **changes: Any) -> SystemSettings:
    """Change system settings (admins). Changing duplicate options does not rewrite keys:
    `leadflow rebuild-keys` does."""
    access.require_admin(actor)
    errors = ErrorCollector()
    current = SystemSettings.load()
    for key, value in changes.items():
        if key in SETTINGS_FIELDS:
            low, high = SETTINGS_FIELDS[key]
            if type(value) is not int or not (low <= value <= high):
                errors.add(key, "out_of_range", f"{key} must be {low} to {high}.")
        elif key == "duplicate_scope":
            if value not in DuplicateScope.values:
                errors.add(key, "invalid", "project or global.")
        elif key in ("email_ignore_plus", "email_ignore_gmail_dots"):
            if not isinstance(value, bool):
                errors.add(key, "invalid", "true or false.")
        else:
            errors.add(key, "unknown_field", f"Unknown setting '{key}'.")
    errors.raise_if_any()
    for key, value in changes.items():
        setattr(current, key, value)
    current.updated_at = timezone.now()
    current.save()
    config_changed()
    return current


# --- field definitions -----------------------------------------------------------------------

FIELD_OPTIONS = ("label", "type", "choices", "nullable", "unique", "primary_key", "position")


def list_field_definitions(*, actor: Actor, project: Project | None = None):
    """The field definitions of `project`, or of every project the actor sees, ordered by
    position (any member reads them: agents fill them in). A project the actor is not a member
    of is NotFound."""
    qs = FieldDefinition.objects.filter(project__in=projects_visible_to(actor))
    if project is not None:
        access.require_member(actor, project.pk)
        qs = qs.filter(project=project)
    return qs.order_by("position", "id")


def _check_field_name(name: str, errors: ErrorCollector) -> str:
    name = (name or "").strip()
    if not name:
        errors.add("name", "required", "Name is required.")
    elif not fields.NAME_PATTERN.match(name):
        errors.add("name", "invalid", "A name is 1 to 50 lower-case letters, digits and "
                   "underscores, starting with a letter (it is the key in the lead's custom "
                   "fields).")
    elif name in fields.RESERVED_NAMES:
        errors.add("name", "reserved", f"'{name}' is a lead field already; choose another name.")
    return name


def _check_field_options(values: dict[str, Any], current: FieldDefinition | None,
                         errors: ErrorCollector) -> dict[str, Any]:
    """Validated options of a field definition; the type, choices and flags are checked
    together, as they will be after the change."""
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if key == "label":
            label = (value or "").strip()
            if len(label) > 100:
                errors.add("label", "too_long", "At most 100 characters.")
            elif "\x00" in label:
                errors.add("label", "invalid", "A label cannot contain a NUL character.")
            checked["label"] = label
        elif key == "type":
            if value not in FieldType.values:
                errors.add("type", "invalid",
                           f"Type must be one of: {', '.join(FieldType.values)}.")
            checked["type"] = value
        elif key == "choices":
            checked["choices"] = _check_choices(value, errors)
        elif key in ("nullable", "unique", "primary_key"):
            if not isinstance(value, bool):
                errors.add(key, "invalid", "true or false.")
            checked[key] = value
        elif key == "position":
            if type(value) is not int or not 1 <= value <= 10_000:
                errors.add("position", "out_of_range", "Position must be 1 to 10000.")
            checked["position"] = value
        else:
            errors.add(key, "unknown_field", f"Unknown field '{key}'.")
    kind = checked.get("type", current.type if current else FieldType.TEXT)
    choices = checked.get("choices", current.choices if current else [])
    if kind == FieldType.CHOICE and not choices and not any(
        e.field == "choices" for e in errors.errors
    ):
        errors.add("choices", "required", "A choice field offers at least one choice.")
    if kind != FieldType.CHOICE and choices:
        errors.add("choices", "invalid", "Only a choice field has choices.")
    if kind == FieldType.BOOLEAN and checked.get("unique", current.unique if current else False):
        errors.add("unique", "invalid", "A yes/no field cannot be unique: only two leads could "
                   "have a value. Make it part of the primary key instead.")
    return checked


def _check_choices(value: Any, errors: ErrorCollector) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        errors.add("choices", "invalid", "Choices are a list of texts.")
        return []
    choices = [c.strip() for c in value if c.strip()]
    folded = [c.casefold() for c in choices]
    if len(choices) > fields.MAX_CHOICES:
        errors.add("choices", "too_many", f"At most {fields.MAX_CHOICES} choices.")
    elif len(set(folded)) != len(folded):
        errors.add("choices", "duplicate", "Each choice is offered once.")
    elif any(len(c) > fields.CHOICE_LIMIT or "\x00" in c for c in choices):
        errors.add("choices", "too_long", f"A choice is 1 to {fields.CHOICE_LIMIT} characters.")
    return choices


def _lead_values(project_id: int, name: str):
    """The project's leads holding a value of custom field `name`."""
    from leadflow.crm.models import Lead

    return Lead.objects.filter(project_id=project_id, custom__has_key=name)


def leads_holding_field(definition: FieldDefinition) -> bool:
    """Whether any lead of the project holds a value of the field (its type is then fixed,
    and deleting it removes values)."""
    return _lead_values(definition.project_id, definition.name).exists()


def _rekey(project_id: int) -> None:
    from leadflow.intake.services.keys import recompute_custom_keys

    recompute_custom_keys(project_id, fields.definitions_of(project_id))


def create_field_definition(project: Project, name: str, *, actor: Actor,
                            **options: Any) -> FieldDefinition:
    """Add a custom field to a project's leads, last unless a position is given (managers).
    Options: label (the name's words by default), type (text by default), choices (a choice
    field's, required for it), nullable (true by default; false makes it required when a
    lead is created), unique, primary_key. A unique or primary-key field gets its duplicate
    keys at once from values the project's leads already hold under that name.
    Errors: ValidationFailed, Conflict (`exists`; `values_collide` when existing values
    collide)."""
    access.require_manager(actor, project.pk)
    errors = ErrorCollector()
    name = _check_field_name(name, errors)
    values = _check_field_options(options, None, errors)
    errors.raise_if_any()
    values["label"] = values.get("label") or name.replace("_", " ").capitalize()

    def make() -> FieldDefinition:
        if "position" not in values:
            top = FieldDefinition.objects.filter(project=project).aggregate(
                m=Max("position"))["m"]
            values["position"] = (top or 0) + 1
        definition = FieldDefinition.objects.create(project=project, name=name, **values)
        if definition.keyed:
            _rekey(project.pk)
        return definition

    return _unique(make, f"A custom field named '{name}' exists already.")


def update_field_definition(definition: FieldDefinition, *, actor: Actor,
                            **changes: Any) -> FieldDefinition:
    """Change a custom field (managers): label, choices, nullable, unique, primary_key,
    position, and its type while no lead holds a value. The name is the key in leads' custom
    fields and never changes (400 `immutable`). Removing a choice some lead holds is Conflict
    (`choice_in_use`). Making a field nullable or required changes no lead: required is
    checked when a lead is created or the field cleared. Changing `unique` or `primary_key`
    recomputes the duplicate keys of the project's leads in the same transaction, or is
    Conflict(`values_collide`) naming leads that share a value, and then changes nothing.
    Intake processes keep a project's definitions up to CONFIG_TTL seconds: a submission
    processed by another process within that moment is still checked by the old flags.
    Errors: ValidationFailed, Conflict."""
    access.require_manager(actor, definition.project_id)
    errors = ErrorCollector()
    if "name" in changes and changes.pop("name") != definition.name:
        errors.add("name", "immutable", "A field's name is the key of the values leads "
                   "hold: it cannot be changed. Change its label.")
    values = _check_field_options(changes, definition, errors)
    errors.raise_if_any()
    values = {k: v for k, v in values.items() if getattr(definition, k) != v}
    if "label" in values and not values["label"]:
        values["label"] = definition.name.replace("_", " ").capitalize()
    if not values:
        return definition
    in_use = _lead_values(definition.project_id, definition.name)
    if "type" in values and in_use.exists():
        raise Conflict(f"Leads hold values of {definition.label}: its type changes only while "
                       "no lead has a value.", code="field_in_use")
    removed = [c for c in definition.choices if c not in values.get("choices", definition.choices)]
    if "choices" in values and definition.type == FieldType.CHOICE and removed:
        held = sorted({
            str(v) for v in in_use.filter(**{f"custom__{definition.name}__in": removed})
            .values_list(f"custom__{definition.name}", flat=True)[:100]
        })
        if held:
            raise Conflict(f"Leads hold {', '.join(held)}: a choice leads hold stays until "
                           "their value changes.", code="choice_in_use")
    values["updated_at"] = timezone.now()
    rekey = "unique" in values or "primary_key" in values
    try:
        return _save_changes(definition, values, "Custom field exists already.",
                             after=(lambda: _rekey(definition.project_id)) if rekey else None)
    except Conflict:
        definition.refresh_from_db()
        raise


def delete_field_definition(definition: FieldDefinition, *, actor: Actor,
                            reason: str = "") -> int:
    """Delete a custom field (managers). Its values are removed from the project's leads and
    its duplicate keys go (the composite key is recomputed without it, which is
    Conflict(`values_collide`) when the remaining primary-key fields then collide; nothing is
    deleted then). Returns how many leads lost a value.
    Timeline: LEAD_UPDATED on each lead that held a value, before {custom: {name: value}},
    after {custom: {name: None}}, one batch."""
    access.require_manager(actor, definition.project_id)
    name, project_id, pk = definition.name, definition.project_id, definition.pk
    batch, changed, now = uuid.uuid4(), 0, timezone.now()
    reason = reason or f"Custom field {definition.label} deleted"
    try:
        changed = _delete_definition(definition, name, project_id, actor=actor, reason=reason,
                                     batch=batch, now=now)
    except Conflict:
        definition.pk = pk  # rolled back: the caller still holds the definition
        raise
    config_changed()
    return changed


def _delete_definition(definition, name, project_id, *, actor, reason, batch, now) -> int:
    from leadflow.crm.models import Lead
    from leadflow.timeline import services as timeline
    from leadflow.timeline.models import TimelineKind

    changed = 0
    with transaction.atomic():
        definition.delete()
        last = 0
        while True:
            leads = list(_lead_values(project_id, name).filter(pk__gt=last).order_by("pk")
                         .only("pk", "project_id", "name", "custom")[:1000])
            if not leads:
                break
            last = leads[-1].pk
            events = []
            for lead in leads:
                value = lead.custom.pop(name)
                lead.updated_at = now
                events.append({"kind": TimelineKind.LEAD_UPDATED, "actor": actor, "lead": lead,
                               "before": {"custom": {name: value}},
                               "after": {"custom": {name: None}}, "reason": reason,
                               "batch_id": batch})
            Lead.objects.bulk_update(leads, ["custom", "updated_at"])
            timeline.record_many(events)
            changed += len(leads)
        if definition.keyed:
            _rekey(project_id)
    return changed
