"""Web-to-lead forms: a source's public form feeds its bucket through the intake path, behind a
honeypot and a per-address rate limit."""

from datetime import datetime, timedelta

import pytest
import time_machine

from leadflow.accounts.models import ThrottleHit
from leadflow.core.errors import NotFound, RateLimited
from leadflow.crm.models import Lead
from leadflow.intake.models import Submission
from leadflow.intake.services import buckets as bucket_services
from leadflow.intake.services.webforms import get_form_source, submit_form
from leadflow.projects import services as project_services
from leadflow.sweeps import run_sweeps
from tests.factories import SYSTEM, make_bucket, make_project, source_named

T0 = datetime.fromisoformat("2030-05-01T08:00:00+00:00")  # the start of a 10-minute window


def form_source(**bucket_values):
    project = make_project(slug="acme")
    bucket, _key = make_bucket(project, name="Website form", label="Web", **bucket_values)
    website = source_named(project, "Website")
    project_services.update_source(website, actor=SYSTEM, form_enabled=True,
                                   form_bucket=bucket.pk)
    return project, website, bucket


def post(source, address="203.0.113.7", **fields):
    values = {"name": "Ann Lee", "email": "ann@example.com"} | fields
    return submit_form(source, values, address=address)


# --- availability ------------------------------------------------------------------------------


def test_an_enabled_form_with_an_active_bucket_is_available():
    project, website, _bucket = form_source()

    assert get_form_source("acme", website.pk) == website


def test_a_form_that_is_off_is_not_found():
    project, website, _bucket = form_source()
    project_services.update_source(website, actor=SYSTEM, form_enabled=False)

    with pytest.raises(NotFound):
        get_form_source("acme", website.pk)


def test_a_form_without_a_bucket_is_not_found():
    project, website, _bucket = form_source()
    project_services.update_source(website, actor=SYSTEM, form_bucket=None)

    with pytest.raises(NotFound):
        get_form_source("acme", website.pk)


def test_a_form_whose_bucket_is_inactive_is_not_found():
    project, website, bucket = form_source()
    bucket_services.update_bucket(bucket, actor=SYSTEM, active=False)

    with pytest.raises(NotFound):
        get_form_source("acme", website.pk)


def test_a_form_of_another_project_or_a_missing_source_is_not_found():
    _project, website, _bucket = form_source()
    make_project(slug="other")

    with pytest.raises(NotFound):
        get_form_source("other", website.pk)
    with pytest.raises(NotFound):
        get_form_source("acme", -1)


# --- posting -----------------------------------------------------------------------------------


def test_a_form_post_becomes_a_submission_of_channel_form_and_a_lead():
    project, website, bucket = form_source()

    submission = post(website, phone="+1 212 555 0100", company="Acme", message="Call me",
                      utm_source="newsletter", unknown="dropped")

    stored = Submission.objects.get()
    lead = Lead.objects.get()
    assert stored.pk == submission.pk
    assert (stored.channel, stored.bucket_id, stored.status, stored.lead_id) == (
        "form", bucket.pk, "processed", lead.pk)
    assert stored.raw == {
        "name": "Ann Lee", "email": "ann@example.com", "phone": "+1 212 555 0100",
        "company": "Acme", "message": "Call me", "utm_source": "newsletter",
        "form": {"source": "Website", "address": "203.0.113.7"},
    }
    assert (lead.name, lead.email, lead.phones, lead.company, lead.source_id, lead.bucket_id,
            lead.bucket_label, lead.utm) == (
        "Ann Lee", "ann@example.com", ["+12125550100"], "Acme", website.pk, bucket.pk, "Web",
        {"source": "newsletter"})


def test_a_form_post_of_a_known_person_is_a_duplicate():
    _project, website, _bucket = form_source()
    first = post(website)

    again = post(website, email="ANN@example.com")

    assert (again.status, again.duplicate_of_id) == ("duplicate", first.lead_id)
    assert Lead.objects.count() == 1


def test_a_filled_honeypot_stores_nothing():
    _project, website, _bucket = form_source()

    result = post(website, website="http://spam.example")

    assert result is None
    assert not Submission.objects.exists()
    assert not Lead.objects.exists()
    assert not ThrottleHit.objects.exists()


def test_the_sixth_post_from_one_address_within_ten_minutes_is_refused():
    _project, website, _bucket = form_source()
    with time_machine.travel(T0, tick=False):
        for i in range(5):
            post(website, email=f"p{i}@example.com")

    with time_machine.travel(T0 + timedelta(minutes=9, seconds=59), tick=False):
        with pytest.raises(RateLimited):
            post(website, email="p5@example.com")
        other_address = post(website, address="198.51.100.2", email="q@example.com")

    assert other_address.status == "processed"
    assert Submission.objects.count() == 6
    assert not Submission.objects.filter(email_key="p5@example.com").exists()


def test_posts_pass_again_once_the_first_ones_are_ten_minutes_old():
    _project, website, _bucket = form_source()
    with time_machine.travel(T0, tick=False):
        for i in range(5):
            post(website, email=f"p{i}@example.com")
        with pytest.raises(RateLimited) as refused:
            post(website, email="late@example.com")

    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        again = post(website, email="late@example.com")

    assert refused.value.retry_after == 600
    assert refused.value.detail == "Too many submissions from your address. Try again in " \
        "10 minutes."
    assert again.status == "processed"
    assert Submission.objects.count() == 6


def test_five_posts_at_the_end_of_a_window_and_five_at_the_start_of_the_next_do_not_all_pass():
    # The old fixed window started again at 08:10 and let all ten through.
    _project, website, _bucket = form_source()
    outcomes = []
    for i, moment in enumerate([T0 + timedelta(minutes=9, seconds=55 + s) for s in range(5)]
                               + [T0 + timedelta(minutes=10, seconds=s) for s in range(5)]):
        with time_machine.travel(moment, tick=False):
            try:
                outcomes.append(post(website, email=f"p{i}@example.com").status)
            except RateLimited as exc:
                outcomes.append(f"wait {exc.retry_after}")

    assert outcomes == ["processed"] * 5 + ["wait 595", "wait 594", "wait 593", "wait 592",
                                            "wait 591"]
    assert Submission.objects.count() == 5


def test_the_limit_is_per_form_of_each_source():
    project, website, bucket = form_source()
    event = source_named(project, "Event")
    project_services.update_source(event, actor=SYSTEM, form_enabled=True, form_bucket=bucket.pk)
    with time_machine.travel(T0, tick=False):
        for i in range(5):
            post(website, email=f"p{i}@example.com")

        other_form = post(event, email="q@example.com")

    assert other_form.status == "processed"


def test_the_sweep_forgets_the_forms_old_posts():
    _project, website, _bucket = form_source()
    with time_machine.travel(T0, tick=False):
        post(website)
    with time_machine.travel(T0 + timedelta(minutes=50), tick=False):
        post(website, address="198.51.100.2")

    with time_machine.travel(T0 + timedelta(hours=1, minutes=1), tick=False):
        forgotten = run_sweeps()["throttle_hits_forgotten"]

    assert forgotten == 1
    assert list(ThrottleHit.objects.values_list("key", flat=True)) == [
        f"form:{website.pk}:198.51.100.2"]


def test_a_form_lead_takes_the_form_sources_name_even_when_the_bucket_has_another():
    project = make_project(slug="events")
    bucket, _key = make_bucket(project, name="Shared intake")  # the bucket's source: Website
    fair = source_named(project, "Event")
    project_services.update_source(fair, actor=SYSTEM, form_enabled=True, form_bucket=bucket.pk)

    submission = post(fair)

    assert Lead.objects.get(pk=submission.lead_id).source_id == fair.pk
    assert bucket.source_id != fair.pk
