"""Raw bulk writes: rows in, constraint violations out as Django's errors."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from leadflow.core.db import batched_writes, insert_tuples
from leadflow.crm.models import Lead, LeadWord
from leadflow.intake.models import DuplicateKey
from tests.factories import make_lead, make_project

pytestmark = pytest.mark.django_db

KEY_COLUMNS = ["scope", "kind", "value", "lead_id", "canonical"]


def test_insert_tuples_writes_every_row_as_given():
    lead = make_lead(make_project())
    rows = [(lead.pk, f"word{n}") for n in range(2500)]

    insert_tuples(LeadWord, ["lead_id", "word"], rows)

    stored = set(LeadWord.objects.filter(lead_id=lead.pk).values_list("lead_id", "word"))
    assert {(lead.pk, f"word{n}") for n in range(2500)} <= stored


def test_insert_tuples_inside_batched_writes_sends_them_at_the_end():
    lead = make_lead(make_project())
    with batched_writes():
        insert_tuples(LeadWord, ["word", "lead_id"], [("zebra", lead.pk), ("yak", lead.pk)])
        assert not LeadWord.objects.filter(word__in=["zebra", "yak"]).exists()
    assert LeadWord.objects.filter(lead_id=lead.pk, word__in=["zebra", "yak"]).count() == 2


def test_a_key_held_canonically_twice_is_an_integrity_error():
    lead = make_lead(make_project(), email="taken@example.com")
    held = DuplicateKey.objects.filter(lead_id=lead.pk, canonical=True).first()

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_tuples(DuplicateKey, KEY_COLUMNS,
                      [(held.scope, held.kind, held.value, lead.pk, True)])
    # Non-canonical copies of a held key are allowed (keep-both).
    insert_tuples(DuplicateKey, KEY_COLUMNS, [(held.scope, held.kind, held.value, lead.pk, False)])
    assert DuplicateKey.objects.filter(value=held.value).count() == 2


def test_insert_tuples_refuses_rows_that_leave_a_column_out():
    with pytest.raises(ValueError, match="canonical"):
        insert_tuples(DuplicateKey, ["scope", "kind", "value", "lead_id"], [("s", "email", "v", 1)])


def test_insert_rows_with_ids_gives_each_row_its_id_in_order_json_included():
    from leadflow.core.db import COPY_MIN_ROWS, insert_rows
    from leadflow.timeline.models import TimelineEvent

    events = [TimelineEvent(kind="LEAD_UPDATED", channel="api", lead_id=n,
                            before={"n": n, "tags": ["a", "b"]}, after=None if n % 2 else {})
              for n in range(COPY_MIN_ROWS + 20)]  # enough for PostgreSQL's COPY path

    insert_rows(TimelineEvent, events, returning=True)

    ids = [event.pk for event in events]
    assert None not in ids and ids == sorted(ids) and len(set(ids)) == len(ids)
    stored = {e.pk: (e.lead_id, e.before, e.after)
              for e in TimelineEvent.objects.filter(pk__in=ids)}
    assert [stored[pk] for pk in ids] == [
        (n, {"n": n, "tags": ["a", "b"]}, None if n % 2 else {}) for n in range(len(ids))]


def test_build_makes_the_instance_the_constructor_makes():
    from leadflow.core.db import build

    project = make_project()
    given = {"project_id": project.pk, "name": "Ann", "phones": ["+12125550100"],
             "created_at": timezone.now(), "updated_at": timezone.now()}
    built, made = build(Lead, **given), Lead(**given)

    assert {f.attname: getattr(built, f.attname) for f in Lead._meta.concrete_fields} == {
        f.attname: getattr(made, f.attname) for f in Lead._meta.concrete_fields}
    assert built.custom is not build(Lead, project_id=project.pk).custom  # fresh defaults
    assert built._state.adding and built._state.db is None
    with pytest.raises(TypeError):
        build(Lead, project=project)


def test_build_sends_the_init_signals_to_their_listeners():
    from django.db.models.signals import post_init

    from leadflow.core.db import build

    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance.name)

    post_init.connect(listener, sender=Lead)
    try:
        build(Lead, project_id=make_project().pk, name="Ann")
    finally:
        post_init.disconnect(listener, sender=Lead)
    assert seen == ["Ann"]


def test_insert_rows_with_ids_never_gives_an_id_again():
    """Ids come after the highest ever given, as the database's own would: a deleted last row's
    id is not handed out again, and a later insert by the ORM carries on after them."""
    from leadflow.core.db import insert_rows

    lead = make_lead(make_project())

    def keys(*values):
        return [DuplicateKey(scope="s", kind="email", value=v, lead_id=lead.pk, canonical=False)
                for v in values]

    first = keys("a", "b", "c")
    insert_rows(DuplicateKey, first, returning=True)
    DuplicateKey.objects.filter(pk=first[-1].pk).delete()
    second = keys("d", "e", "f")
    insert_rows(DuplicateKey, second, returning=True)
    later = DuplicateKey.objects.create(scope="s", kind="email", value="g", lead_id=lead.pk,
                                        canonical=False)

    assert [k.pk for k in second] == list(range(first[-1].pk + 1, first[-1].pk + 4))
    assert later.pk == second[-1].pk + 1
    assert dict(DuplicateKey.objects.filter(pk__in=[k.pk for k in second])
                .values_list("pk", "value")) == {k.pk: k.value for k in second}


def test_raw_statements_run_alike_the_second_time_literal_percent_and_named_parameters_too():
    """SQLite's cursor keeps each statement's converted text; every way of writing one must
    still mean the same on its later runs."""
    from django.db import connection

    make_lead(make_project(), name="100% Ann")
    literal = "SELECT name FROM crm_lead WHERE name LIKE '100%%' AND name <> %s"
    named = "SELECT name FROM crm_lead WHERE name = %(name)s"
    for _run in range(2):
        with connection.cursor() as cursor:
            cursor.execute(literal, ["x"])
            assert cursor.fetchall() == [("100% Ann",)]
            cursor.execute(named, {"name": "100% Ann"})
            assert cursor.fetchall() == [("100% Ann",)]


def test_rows_with_ids_and_rows_pending_in_batched_writes_all_get_ids_of_their_own():
    from leadflow.core.db import insert_rows

    lead = make_lead(make_project())

    def keys(*values):
        return [DuplicateKey(scope="s", kind="email", value=v, lead_id=lead.pk, canonical=False)
                for v in values]

    with transaction.atomic(), batched_writes():
        insert_rows(DuplicateKey, keys("pending-1", "pending-2"))
        given = keys("given-1", "given-2")
        insert_rows(DuplicateKey, given, returning=True)

    stored = dict(DuplicateKey.objects.filter(scope="s").values_list("value", "pk"))
    assert set(stored) == {"pending-1", "pending-2", "given-1", "given-2"}
    assert [stored["given-1"], stored["given-2"]] == [k.pk for k in given]


def test_slices_fit_sqlite_batches_to_their_time_and_leave_others_whole():
    from django.db import connection

    from leadflow.core.db import Slices

    slices = Slices(1000, seconds=0.1, least=20)
    first = slices.size
    slices.wrote(first, 1.0)  # ten times too long: the next batches shrink
    shrunk = slices.size
    for _ in range(10):
        slices.wrote(slices.size, 0.01)  # ten times too short: they grow back, to at most 1000

    if connection.vendor == "sqlite":
        assert (first, shrunk, slices.size) == (100, 55, 1000)
    else:
        assert (first, shrunk, slices.size) == (1000, 1000, 1000)
