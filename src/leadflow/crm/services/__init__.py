"""Use cases of the worked lead. Each function checks access, validates, changes rows in one
transaction and records its timeline events in that same transaction.

- leads: create, edit contact fields, set stage, delete, merge
- ownership: assign, unassign, release, claim, take ownership, next from a pool, route
- offers: offer, accept, decline, cancel
"""

from leadflow.crm.services.leads import (
    MANUAL_SOURCE,
    create_lead,
    delete_lead,
    merge_leads,
    set_stage,
    update_lead,
)
from leadflow.crm.services.offers import accept_offer, cancel_offer, decline_offer, make_offer
from leadflow.crm.services.ownership import (
    assign,
    bulk_leads,
    claim,
    next_from_pool,
    release,
    route_lead,
    start_bulk_job,
    take_ownership,
    unassign,
)

__all__ = [
    "MANUAL_SOURCE",
    "accept_offer",
    "assign",
    "bulk_leads",
    "cancel_offer",
    "claim",
    "create_lead",
    "decline_offer",
    "delete_lead",
    "make_offer",
    "merge_leads",
    "next_from_pool",
    "release",
    "route_lead",
    "set_stage",
    "start_bulk_job",
    "take_ownership",
    "unassign",
    "update_lead",
]
