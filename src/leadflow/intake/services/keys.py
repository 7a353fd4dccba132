"""Rebuilding duplicate keys after the duplicate options changed."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from leadflow.accounts import access
from leadflow.core.actor import Actor
from leadflow.crm.models import Lead
from leadflow.intake.keys import derive_keys, scope_for
from leadflow.intake.models import DuplicateKey
from leadflow.projects.models import SystemSettings

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
    """Recompute every lead's keys with the current scope and e-mail options (admins), in one
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
    with transaction.atomic():
        DuplicateKey.objects.all().delete()
        last = 0
        while True:
            batch = list(
                Lead.objects.filter(pk__gt=last).order_by("pk")
                .values_list("pk", "project_id", "email", "phones")[:BATCH]
            )
            if not batch:
                break
            last = batch[-1][0]
            rows = []
            for pk, project_id, email, phones in batch:
                owner = _survivor(pk, merged)
                report.leads += 1
                scope = scope_for(project_id, settings)
                for kind, value in derive_keys(email, phones or [], settings):
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
