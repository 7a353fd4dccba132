"""Columns most leads leave empty are indexed only where set (partial indexes): every query of
them names a value, so the planner must still walk those indexes."""

import pytest

from leadflow.crm.models import Lead
from leadflow.timeline.models import TimelineEvent
from tests.factories import make_bucket, make_lead, make_project, make_user, query_plan

pytestmark = pytest.mark.django_db


def plan_of(queryset) -> str:
    return query_plan(*queryset.query.sql_with_params())


@pytest.mark.parametrize("query, index", [
    (lambda ids: Lead.objects.filter(bucket_id=ids["bucket"]).order_by("created_at", "id"),
     "lead_bucket_created"),
    (lambda ids: Lead.objects.filter(claimed_by_id=ids["user"]), "lead_claim"),
    (lambda ids: Lead.objects.filter(client_id=ids["lead"]), "lead_client"),
    (lambda ids: Lead.objects.filter(merged_into_id__in=[ids["lead"]]), "lead_merged_into"),
    (lambda ids: TimelineEvent.objects.filter(client_id=ids["lead"]).order_by("occurred_at",
                                                                               "id"),
     "timeline_client_time"),
    (lambda ids: TimelineEvent.objects.filter(actor_id=ids["user"]), "timeline_actor"),
])
def test_a_query_naming_a_value_walks_the_partial_index(query, index):
    project = make_project()
    ids = {"bucket": make_bucket(project)[0].pk, "user": make_user(project, "agent").pk,
           "lead": make_lead(project).pk}
    assert index in plan_of(query(ids))
