"""The public web-to-lead form and its settings on the source edit screen."""

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from leadflow.crm.models import Lead
from leadflow.intake.models import Submission
from leadflow.intake.services import buckets as bucket_services
from leadflow.projects import services as project_services
from leadflow.projects.models import Source
from tests.factories import SYSTEM, make_project, make_user, source_named
from tests.web.intake_factories import make_bucket

PERSON = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000",
          "company": "Analytical Engines", "message": "Call me <b>soon</b>", "website": ""}


def _form(**kwargs):
    """A project whose Website source has its public form on, feeding a fresh bucket."""
    project = make_project(slug=kwargs.pop("slug", None) or "acme")
    bucket = make_bucket(project, name="Web form", **kwargs)
    source = source_named(project, "Website")
    project_services.update_source(source, actor=SYSTEM, form_enabled=True, form_bucket=bucket.pk)
    url = reverse("webforms:form", args=[project.slug, source.pk])
    return project, bucket, source, url


def _post(client, url, address="203.0.113.7", **fields):
    return client.post(url, {**PERSON, **fields}, REMOTE_ADDR=address)


def test_form_page_has_the_fields_a_hidden_honeypot_and_utm_from_the_query(client):
    project, bucket, source, url = _form()

    response = client.get(url, {"utm_source": "newsletter", "utm_campaign": "spring",
                                "other": "x"})

    html = response.content.decode()
    assert response.status_code == 200
    for name in ["name", "email", "phone", "company", "message"]:
        assert f'name="{name}"' in html
    honeypot = html.split('name="website"')[1].split(">")[0]
    assert 'tabindex="-1"' in honeypot and 'autocomplete="off"' in honeypot
    assert 'class="hp-field" aria-hidden="true"' in html
    assert '<input type="hidden" name="utm_source" value="newsletter"' in html
    assert '<input type="hidden" name="utm_campaign" value="spring"' in html
    assert 'name="other"' not in html
    assert "csrfmiddlewaretoken" in html
    assert 'class="topbar"' not in html


def test_submitting_the_form_creates_a_processed_submission_and_a_lead(client):
    project, bucket, source, url = _form(affiliate_id="AFF-1")

    response = _post(client, url, utm_source="newsletter")

    assert response.status_code == 302
    assert response["Location"] == reverse("webforms:thanks", args=[project.slug, source.pk])
    submission = Submission.objects.get(bucket=bucket)
    assert (submission.status, submission.channel) == ("processed", "form")
    assert submission.raw["message"] == "Call me <b>soon</b>"
    assert submission.raw["form"] == {"source": "Website", "address": "203.0.113.7"}
    lead = Lead.objects.get(pk=submission.lead_id)
    assert (lead.name, lead.email, lead.phones, lead.company) == (
        "Ada Lovelace", "ada@example.com", ["+442079460000"], "Analytical Engines"
    )
    assert (lead.source_id, lead.bucket_id, lead.utm) == (
        source.pk, bucket.pk, {"source": "newsletter"}
    )
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    assert "Thank you" in thanks.content.decode()


def test_a_duplicate_is_a_success_for_the_visitor(client):
    project, bucket, source, url = _form()
    _post(client, url)

    response = _post(client, url, name="Ada L.", email="ADA@example.com", phone="")

    assert response.status_code == 302
    assert list(Submission.objects.filter(bucket=bucket).order_by("id")
                .values_list("status", flat=True)) == ["processed", "duplicate"]
    assert Lead.objects.filter(project=project).count() == 1


def test_rejected_submission_shows_its_errors_on_the_fields(client):
    project, bucket, source, url = _form()

    bad_values = _post(client, url, email="not-an-email", phone="12")
    nothing = _post(client, url, name="", email="", phone="", company="", message="")

    errors = bad_values.context["form"].errors
    assert bad_values.status_code == 200
    assert errors["email"] == ["An email address must have an @-sign."]
    assert errors["phone"] == ["'12' is not a valid phone number."]
    assert nothing.context["form"].errors["name"] == ["Name is required."]
    assert nothing.context["form"].errors["email"] == ["An e-mail or a phone is required."]
    assert 'value="not-an-email"' in bad_values.content.decode()
    assert list(Submission.objects.filter(bucket=bucket).values_list("status", flat=True)) == [
        "rejected", "rejected"
    ]
    assert not Lead.objects.filter(project=project).exists()


def test_filled_honeypot_thanks_the_bot_and_stores_nothing(client):
    project, bucket, source, url = _form()

    response = _post(client, url, website="http://spam.example")

    assert response.status_code == 302
    assert response["Location"] == reverse("webforms:thanks", args=[project.slug, source.pk])
    assert not Submission.objects.exists()
    assert not Lead.objects.exists()


def test_sixth_post_from_one_address_within_the_window_is_429(client):
    project, bucket, source, url = _form()

    statuses = [
        _post(client, url, email=f"person{i}@example.com", phone="").status_code
        for i in range(6)
    ]
    other_address = _post(client, url, address="198.51.100.9", email="else@example.com",
                          phone="")
    blocked = _post(client, url, email="late@example.com", phone="")

    assert statuses == [302] * 5 + [429]
    assert other_address.status_code == 302
    assert blocked.status_code == 429
    assert "Too many submissions" in blocked.content.decode()
    assert "Try again in 10 minutes." in blocked.content.decode()
    assert 595 <= int(blocked["Retry-After"]) <= 600
    assert Submission.objects.filter(bucket=bucket).count() == 6


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_visitors_behind_a_trusted_proxy_each_have_their_own_limit(client):
    project, bucket, source, url = _form()

    def through_proxy(visitor, i):
        return client.post(url, {**PERSON, "email": f"p{i}@example.com", "phone": ""},
                           REMOTE_ADDR="10.0.0.2",
                           HTTP_X_FORWARDED_FOR=f"{visitor}, 10.0.0.1").status_code

    first = [through_proxy("198.51.100.1", i) for i in range(6)]
    second = [through_proxy("198.51.100.2", i) for i in range(6, 8)]

    assert first == [302] * 5 + [429]
    assert second == [302, 302]
    assert sorted(Submission.objects.values_list("raw__form__address", flat=True)) == (
        ["198.51.100.1"] * 5 + ["198.51.100.2"] * 2)


def test_a_forwarded_for_header_from_an_untrusted_peer_does_not_dodge_the_limit(client):
    project, bucket, source, url = _form()

    statuses = [
        client.post(url, {**PERSON, "email": f"p{i}@example.com", "phone": ""},
                    REMOTE_ADDR="203.0.113.7",
                    HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
        for i in range(6)
    ]

    assert statuses == [302] * 5 + [429]


@pytest.mark.parametrize("state", ["form_off", "no_bucket", "bucket_inactive", "wrong_project"])
def test_unavailable_form_is_404(client, state):
    project, bucket, source, url = _form()
    if state == "form_off":
        project_services.update_source(source, actor=SYSTEM, form_enabled=False)
    elif state == "no_bucket":
        project_services.update_source(source, actor=SYSTEM, form_bucket=None)
    elif state == "bucket_inactive":
        bucket_services.update_bucket(bucket, actor=SYSTEM, active=False)
    else:
        url = reverse("webforms:form", args=[make_project(slug="other").slug, source.pk])

    page = client.get(url)
    post = _post(client, url)
    thanks = client.get(url + "thanks/")

    assert [page.status_code, post.status_code, thanks.status_code] == [404, 404, 404]
    assert "This form is not available." in page.content.decode()
    assert not Submission.objects.exists()


def test_only_the_public_form_may_be_framed(client):
    project, bucket, source, url = _form()
    manager = make_user(project, "manager")

    form = client.get(url)
    thanks = client.get(reverse("webforms:thanks", args=[project.slug, source.pk]))
    login = client.get(reverse("login"))
    client.force_login(manager)
    leads = client.get(reverse("crm:lead_list"))

    assert "X-Frame-Options" not in form
    assert "X-Frame-Options" not in thanks
    assert login["X-Frame-Options"] == "DENY"
    assert leads["X-Frame-Options"] == "DENY"


def test_embedded_form_posts_without_a_csrf_cookie():
    """Browsers withhold cookies from a cross-site iframe: the anonymous form must still work,
    while logged-in screens keep refusing posts without a token."""
    project, bucket, source, url = _form()
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(url, PERSON, REMOTE_ADDR="203.0.113.7")
    login = strict.post(reverse("login"), {"username": "x@example.com", "password": "y"})

    assert response.status_code == 302
    assert Submission.objects.count() == 1
    assert login.status_code == 403


# --- the source edit screen ------------------------------------------------------------------


def test_manager_enables_the_form_and_gets_its_address_and_snippet(client):
    project = make_project(slug="acme")
    manager = make_user(project, "manager")
    bucket = make_bucket(project, name="Landing page")
    source = source_named(project, "Website")
    client.force_login(manager)
    edit_url = reverse("config:source_edit", args=[source.pk])

    before = client.get(edit_url).content.decode()
    saved = client.post(edit_url, {"name": "Website", "form_enabled": "on",
                                   "form_bucket": bucket.pk})
    after = client.get(edit_url).content.decode()

    assert "Public form enabled" in before and "Form bucket" in before
    assert "&lt;iframe" not in before
    assert saved.status_code == 302
    source.refresh_from_db()
    assert (source.form_enabled, source.form_bucket_id) == (True, bucket.pk)
    form_url = f"http://testserver/f/acme/{source.pk}/"
    assert f'value="{form_url}"' in after
    assert f'&lt;iframe src="{form_url}"' in after
    assert "Landing page" in after


def test_form_bucket_of_another_project_is_refused(client):
    project, other = make_project(), make_project()
    manager = make_user(project, "manager")
    foreign = make_bucket(other)
    source = source_named(project, "Website")

    client.force_login(manager)
    page = client.get(reverse("config:source_edit", args=[source.pk])).content.decode()
    refused = client.post(reverse("config:source_edit", args=[source.pk]),
                          {"name": "Website", "form_enabled": "on", "form_bucket": foreign.pk})

    assert foreign.name not in page
    assert refused.status_code == 200
    assert "form_bucket" in refused.context["form"].errors
    assert Source.objects.get(pk=source.pk).form_bucket_id is None


def test_enabled_form_without_an_active_bucket_warns_the_manager(client):
    project = make_project()
    manager = make_user(project, "manager")
    source = source_named(project, "Website")
    project_services.update_source(source, actor=SYSTEM, form_enabled=True)
    client.force_login(manager)

    html = client.get(reverse("config:source_edit", args=[source.pk])).content.decode()

    assert "until an active form bucket is chosen" in html
