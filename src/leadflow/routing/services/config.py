"""Configuration use cases of routing: offices and groups (the teams offers target) and
distribution rules. Managers of the project and admins only: agents get PermissionDenied,
callers outside the project NotFound. These are configuration, not leads or clients, so they
write no timeline events (as pools and stages do not)."""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from leadflow.accounts import access
from leadflow.core.actor import Actor
from leadflow.core.cache import config_changed
from leadflow.core.errors import ErrorCollector, NotFound
from leadflow.projects.models import Pool, Project, Source
from leadflow.projects.services import _check_members, _check_name, _save_changes, _unique
from leadflow.routing.models import DistributionRule, Group, Method, Office

# Bounds that keep numbers inside every database's integer columns and the rotation's sums.
MAX_WEIGHT = 1_000_000
MAX_CAP = 1_000_000
MAX_CONDITION_VALUES = 500
LANGUAGE = re.compile(r"[a-z0-9][a-z0-9_-]{1,15}")
RULE_FIELDS = ("name", "pool", "method", "active", "sources", "buckets", "countries",
               "languages", "custom", "weights", "caps", "agent_cap")


# --- offices and groups ------------------------------------------------------------------------


def _create_team(model, label: str, project: Project, name: str, actor: Actor, members):
    access.require_manager(actor, project.pk)
    errors = ErrorCollector()
    name = _check_name(name, errors)
    ids = _check_members(project, list(members), errors)
    errors.raise_if_any()

    def make():
        team = model.objects.create(project=project, name=name)
        team.members.set(ids)
        return team

    return _unique(make, f"{label} '{name}' exists already.")


def _update_team(team, label: str, actor: Actor, name, members):
    access.require_manager(actor, team.project_id)
    errors = ErrorCollector()
    values = {}
    if name is not None:
        values["name"] = _check_name(name, errors)
    ids = _check_members(team.project, list(members), errors) if members is not None else None
    errors.raise_if_any()
    return _save_changes(
        team, values, f"{label} '{values.get('name', team.name)}' exists already.",
        after=(lambda: team.members.set(ids)) if ids is not None else None,
    )


def create_office(project: Project, name: str, *, actor: Actor, members: list[int] = ()
                  ) -> Office:
    """Create an office of a project's members (managers). Errors: ValidationFailed (name,
    members not in the project), Conflict (name taken)."""
    return _create_team(Office, "Office", project, name, actor, members)


def update_office(office: Office, *, actor: Actor, name=None, members=None) -> Office:
    """Rename an office or set its members (managers). Offers already made keep their
    recipients."""
    return _update_team(office, "Office", actor, name, members)


def delete_office(office: Office, *, actor: Actor) -> None:
    """Delete an office (managers). Offers made to it keep their recipients."""
    access.require_manager(actor, office.project_id)
    office.delete()


def create_group(project: Project, name: str, *, actor: Actor, members: list[int] = ()
                 ) -> Group:
    """Create a group of a project's members (managers). Errors: ValidationFailed (name,
    members not in the project), Conflict (name taken)."""
    return _create_team(Group, "Group", project, name, actor, members)


def update_group(group: Group, *, actor: Actor, name=None, members=None) -> Group:
    """Rename a group or set its members (managers)."""
    return _update_team(group, "Group", actor, name, members)


def delete_group(group: Group, *, actor: Actor) -> None:
    """Delete a group (managers). Offers made to it keep their recipients."""
    access.require_manager(actor, group.project_id)
    group.delete()


# --- distribution rules ------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _id_list(field: str, value: Any, known, errors: ErrorCollector, label: str) -> list[int]:
    """A list of ids of the project's rows (`known` answers which exist)."""
    if not isinstance(value, list | tuple) or not all(_is_int(v) for v in value):
        errors.add(field, "invalid", f"A list of {label} ids.")
        return []
    ids = sorted(set(value))
    found = set(known(ids)) if ids else set()
    for missing in [i for i in ids if i not in found]:
        errors.add(field, "invalid", f"No {label} {missing} in this project.")
    return ids


def _text_list(field: str, value: Any, errors: ErrorCollector) -> list[str] | None:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        errors.add(field, "invalid", "A list of strings.")
        return None
    if len(value) > MAX_CONDITION_VALUES:
        errors.add(field, "too_many", f"At most {MAX_CONDITION_VALUES} values.")
        return None
    return [v.strip() for v in value]


def _countries(value: Any, errors: ErrorCollector) -> list[str]:
    codes = _text_list("countries", value, errors)
    if codes is None:
        return []
    codes = [c.upper() for c in codes]
    for code in codes:
        if code not in phonenumbers.SUPPORTED_REGIONS:
            errors.add("countries", "invalid", f"'{code}' is not an ISO 3166 country code.")
    return sorted(set(codes))


def _languages(value: Any, errors: ErrorCollector) -> list[str]:
    codes = _text_list("languages", value, errors)
    if codes is None:
        return []
    codes = [c.lower() for c in codes]
    for code in codes:
        if not LANGUAGE.fullmatch(code):
            errors.add("languages", "invalid",
                       f"'{code}' is not a language code (2 to 16 letters, digits or dashes).")
    return sorted(set(codes))


def _scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= 200 and "\x00" not in value
    return isinstance(value, bool | int | float) and not (
        isinstance(value, float) and value != value  # NaN never matches and breaks JSON
    )


def _custom(value: Any, errors: ErrorCollector) -> dict:
    if not isinstance(value, dict):
        errors.add("custom", "invalid", "An object of field name → value or list of values.")
        return {}
    cleaned = {}
    for name, wanted in value.items():
        key = name.strip() if isinstance(name, str) else ""
        if not key or len(key) > 100 or "\x00" in key:
            errors.add("custom", "invalid", "A custom field name is 1 to 100 characters.")
            continue
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values or len(values) > MAX_CONDITION_VALUES or not all(map(_scalar, values)):
            errors.add("custom", "invalid",
                       f"'{key}': a value (text, number, true/false) or a list of them.")
            continue
        cleaned[key] = wanted
    return cleaned


def _per_agent(field: str, value: Any, members: set[int], errors: ErrorCollector, *,
               nullable: bool, limit: int) -> dict[str, int | None]:
    """{user id: number} for members of the rule's pool, keyed by the id as a string."""
    if not isinstance(value, dict):
        errors.add(field, "invalid", "An object of user id → number.")
        return {}
    cleaned: dict[str, int | None] = {}
    for key, number in value.items():
        text = str(key).strip()
        if not text.isdigit() or not text.isascii():
            errors.add(field, "invalid", f"'{key}' is not a user id.")
            continue
        user_id = int(text)
        if user_id not in members:
            errors.add(field, "not_in_pool", f"User {user_id} is not in the rule's pool.")
            continue
        if number is None and nullable:
            cleaned[str(user_id)] = None
        elif not _is_int(number) or not 0 <= number <= limit:
            errors.add(field, "out_of_range", f"User {user_id}: a whole number from 0 to {limit}.")
        else:
            cleaned[str(user_id)] = number
    return cleaned


def _pool_members(pool_id: int) -> set[int]:
    return set(Pool.members.through.objects.filter(pool_id=pool_id).values_list("user_id",
                                                                                flat=True))


def _rule_values(project: Project, changes: dict[str, Any], errors: ErrorCollector,
                 rule: DistributionRule | None = None) -> dict[str, Any]:
    """Validated model values for the fields in `changes` (a rule's create or update)."""
    from leadflow.intake.models import Bucket

    values: dict[str, Any] = {}
    for key in changes:
        if key not in RULE_FIELDS:
            errors.add(key, "unknown_field", f"Unknown field '{key}'.")
    if "name" in changes:
        values["name"] = _check_name(changes["name"], errors)
    pool_id = rule.pool_id if rule is not None else None
    if "pool" in changes:
        value = changes["pool"]
        if not _is_int(value) or not Pool.objects.filter(pk=value, project=project).exists():
            errors.add("pool", "invalid", "Choose a pool of this project.")
            pool_id = None
        else:
            pool_id = values["pool_id"] = value
    if "method" in changes:
        if changes["method"] not in Method.values:
            errors.add("method", "invalid", "round_robin, weighted or least_loaded.")
        values["method"] = changes["method"]
    if "active" in changes:
        if not isinstance(changes["active"], bool):
            errors.add("active", "invalid", "true or false.")
        values["active"] = changes["active"]
    if "sources" in changes:
        values["sources"] = _id_list(
            "sources", changes["sources"], lambda ids: Source.objects.filter(
                project=project, pk__in=ids).values_list("pk", flat=True), errors, "source")
    if "buckets" in changes:
        values["buckets"] = _id_list(
            "buckets", changes["buckets"], lambda ids: Bucket.objects.filter(
                project=project, pk__in=ids).values_list("pk", flat=True), errors, "bucket")
    if "countries" in changes:
        values["countries"] = _countries(changes["countries"], errors)
    if "languages" in changes:
        values["languages"] = _languages(changes["languages"], errors)
    if "custom" in changes:
        values["custom"] = _custom(changes["custom"], errors)
    if "agent_cap" in changes:
        cap = changes["agent_cap"]
        if cap is not None and (not _is_int(cap) or not 0 <= cap <= MAX_CAP):
            errors.add("agent_cap", "out_of_range", f"A whole number from 0 to {MAX_CAP}, or "
                       "empty for no cap.")
        values["agent_cap"] = cap
    if pool_id is not None:
        members = _pool_members(pool_id)
        pool_changed = rule is not None and pool_id != rule.pool_id
        for field, nullable, limit in (("weights", False, MAX_WEIGHT), ("caps", True, MAX_CAP)):
            if field in changes:
                values[field] = _per_agent(field, changes[field], members, errors,
                                           nullable=nullable, limit=limit)
            elif pool_changed:
                # Settings of people outside the new pool would never apply: drop them.
                values[field] = {k: v for k, v in getattr(rule, field).items()
                                 if k.isdigit() and int(k) in members}
    return values


def create_rule(project: Project, name: str, *, actor: Actor, pool: int,
                method: str = Method.ROUND_ROBIN, **options: Any) -> DistributionRule:
    """Add a distribution rule at the end of the project's order (managers).

    Conditions (`sources`, `buckets` ids of the project; `countries` ISO 3166 codes, stored upper
    case; `languages`, stored lower case; `custom` {field: value or [values]}) must all hold;
    empty ones match anything. `weights` {user id: 0..} and `caps` {user id: 0.. or null for no
    cap} only for members of the rule's `pool`; `agent_cap` applies to members without a cap of
    their own. Errors: ValidationFailed, Conflict (name taken)."""
    access.require_manager(actor, project.pk)
    errors = ErrorCollector()
    values = _rule_values(project, {"name": name, "pool": pool, "method": method, **options},
                          errors)
    errors.raise_if_any()

    def make() -> DistributionRule:
        last = DistributionRule.objects.filter(project=project).aggregate(
            m=Max("position"))["m"]
        return DistributionRule.objects.create(project=project, position=(last or 0) + 1,
                                               **values)

    return _unique(make, f"Rule '{values['name']}' exists already.")


def update_rule(rule: DistributionRule, *, actor: Actor, **changes: Any) -> DistributionRule:
    """Change a rule's name, pool, method, conditions, per-agent settings, cap or active flag
    (managers). A new pool or method restarts the rotation (no cursor, no credits); a new pool
    drops per-agent settings of people outside it unless new ones are given. Errors:
    ValidationFailed, Conflict (name taken)."""
    access.require_manager(actor, rule.project_id)
    errors = ErrorCollector()
    values = _rule_values(rule.project, changes, errors, rule)
    errors.raise_if_any()
    values = {k: v for k, v in values.items() if getattr(rule, k) != v}
    if not values:
        return rule
    if "pool_id" in values or "method" in values:
        values.update(cursor=None, credits={})
    values["updated_at"] = timezone.now()
    return _save_changes(rule, values, f"Rule '{values.get('name', rule.name)}' exists already.")


def move_rule(rule: DistributionRule, *, actor: Actor, up: bool) -> DistributionRule:
    """Swap a rule with its neighbour in the project's order and number the rules 1..n
    (managers). Moving the first rule up or the last down changes nothing."""
    access.require_manager(actor, rule.project_id)
    with transaction.atomic():
        ordered = list(
            DistributionRule.objects.select_for_update()
            .filter(project_id=rule.project_id).order_by("position", "id")
        )
        index = next((i for i, r in enumerate(ordered) if r.pk == rule.pk), None)
        if index is None:
            raise NotFound("Distribution rule not found.")
        other = index - 1 if up else index + 1
        if 0 <= other < len(ordered):
            ordered[index], ordered[other] = ordered[other], ordered[index]
        for position, row in enumerate(ordered, start=1):
            if row.position != position:
                DistributionRule.objects.filter(pk=row.pk).update(position=position,
                                                                  updated_at=timezone.now())
    config_changed()
    rule.refresh_from_db()
    return rule


def delete_rule(rule: DistributionRule, *, actor: Actor) -> None:
    """Delete a rule (managers); leads it routed keep their owner and timeline."""
    access.require_manager(actor, rule.project_id)
    rule.delete()
    config_changed()
