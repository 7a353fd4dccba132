"""Duplicate keys of existing leads: rebuilding them all after the duplicate options changed,
and recomputing a project's custom keys after its field definitions changed."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from leadflow.accounts import access
from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict
from leadflow.crm.models import Lead
from leadflow.intake.keys import custom_keys, derive_keys, scope_for
from leadflow.intake.models import DuplicateKey, KeyKind
from leadflow.projects.models import FieldDefinition, SystemSettings

BATCH = 2000


@dataclass
class RebuildReport:
    leads: int = 0
    keys: int = 0
    collisions: list[dict] = field(default_factory=list)


def _survivor(lead_id: int, merged: dict[int, int]) -> int:
    seen = set()
    while lead_id in merged and lead_id not in seen:
        seen.add(lead_id)
        lead_id = merged[lead_id]
    return lead_id


def rebuild_keys(*, actor: Actor) -> RebuildReport:
    """Recompute every lead's keys (e-mail, phones, unique custom fields, composite primary
    key) with the current scope, e-mail options and field definitions (admins), in one
    transaction. Leads are taken oldest first: the first holder of a key keeps it canonical,
    a later one holds it non-canonically and is reported as a collision. A merged-away lead's
    values count for its survivor."""
    access.require_admin(actor)
    settings = SystemSettings.load()
    report = RebuildReport()
    merged = dict(
        Lead.objects.filter(merged_into__isnull=False).values_list("pk", "merged_into_id")
    )
    taken: dict[tuple[str, str, str], int] = {}
    held: set[tuple] = set()
    fields: dict[int, list[FieldDefinition]] = {}
    for definition in FieldDefinition.objects.order_by("position", "id"):
        fields.setdefault(definition.project_id, []).append(definition)
    with transaction.atomic():
        DuplicateKey.objects.all().delete()
        last = 0
        while True:
            batch = list(
                Lead.objects.filter(pk__gt=last).order_by("pk")
                .values_list("pk", "project_id", "email", "phones", "custom")[:BATCH]
            )
            if not batch:
                break
            last = batch[-1][0]
            rows = []
            for pk, project_id, email, phones, custom in batch:
                owner = _survivor(pk, merged)
                report.leads += 1
                scope = scope_for(project_id, settings)
                for kind, value in derive_keys(email, phones or [], settings, custom or {},
                                               fields.get(project_id, ())):
                    key = (scope, kind, value)
                    if (owner, *key) in held:
                        continue
                    held.add((owner, *key))
                    holder = taken.setdefault(key, owner)
                    canonical = holder == owner
                    if not canonical:
                        report.collisions.append(
                            {"kind": kind, "value": value, "kept_by": holder, "lead": owner}
                        )
                    rows.append(DuplicateKey(scope=scope, kind=kind, value=value,
                                             lead_id=owner, canonical=canonical))
            DuplicateKey.objects.bulk_create(rows, batch_size=1000)
            report.keys += len(rows)
    return report


CUSTOM_KINDS = (KeyKind.CUSTOM, KeyKind.COMPOSITE)


def recompute_custom_keys(project_id: int, fields: list[FieldDefinition]) -> int:
    """Give the project's leads exactly the custom and composite keys of their stored values
    under `fields` (its definitions as they now are). Runs inside the caller's transaction,
    which a Conflict rolls back.

    A lead holding any key non-canonically (keep-both, upsell) holds its new keys
    non-canonically too, as ingest gives them; a merged-away lead holds none (its survivor
    holds its keys). Two leads with one value of a unique field (or one set of primary-key
    values) are Conflict(code="values_collide") naming them, as is a key held by a lead of
    another project (global duplicate scope). Returns how many keys the leads now hold."""
    settings = SystemSettings.load()
    scope = scope_for(project_id, settings)
    project_leads = Lead.objects.filter(project_id=project_id)
    DuplicateKey.objects.filter(lead__in=project_leads, kind__in=CUSTOM_KINDS).delete()
    if not any(f.keyed for f in fields):
        return 0
    shared = set(
        DuplicateKey.objects.filter(lead__in=project_leads, canonical=False)
        .values_list("lead_id", flat=True)
    )
    holders: dict[tuple[str, str], int] = {}
    collisions: list[tuple[str, str, int, int]] = []
    rows: list[DuplicateKey] = []
    last = 0
    while True:
        batch = list(
            project_leads.filter(pk__gt=last, merged_into__isnull=True).order_by("pk")
            .values_list("pk", "custom")[:BATCH]
        )
        if not batch:
            break
        last = batch[-1][0]
        for pk, custom in batch:
            for kind, value in custom_keys(custom or {}, fields):
                canonical = pk not in shared
                if canonical:
                    holder = holders.setdefault((kind, value), pk)
                    if holder != pk:
                        collisions.append((kind, value, holder, pk))
                rows.append(DuplicateKey(scope=scope, kind=kind, value=value, lead_id=pk,
                                         canonical=canonical))
    if collisions:
        shown = "; ".join(f"leads #{a} and #{b} share {kind} {value}"
                          for kind, value, a, b in collisions[:5])
        more = f" (and {len(collisions) - 5} more)" if len(collisions) > 5 else ""
        raise Conflict(f"Existing leads collide: {shown}{more}. Change or clear their values "
                       "first.", code="values_collide",
                       collisions=[{"kind": kind, "value": value, "leads": [a, b]}
                                   for kind, value, a, b in collisions[:20]])
    try:
        with transaction.atomic():
            for start in range(0, len(rows), 1000):
                DuplicateKey.objects.bulk_create(rows[start:start + 1000])
    except IntegrityError:
        raise Conflict("A lead of another project holds one of these values as a duplicate key "
                       "(the duplicate scope is the whole install).", code="values_collide")
    return len(rows)
