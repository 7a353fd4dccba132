"""Web-to-lead forms: a source's public form feeds its chosen bucket through the same path as
API intake, behind a honeypot and a per-address rate limit (a sliding window kept by the
accounts throttle)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from leadflow.accounts import throttle
from leadflow.core.errors import NotFound, RateLimited
from leadflow.intake.models import RateCounter, Submission
from leadflow.intake.services.submissions import submit
from leadflow.projects.fields import definitions_of
from leadflow.projects.models import Source

FORM_FIELDS = ("name", "email", "phone", "company", "country", "message")
HONEYPOT = "website"
RATE_LIMIT = throttle.WEB_FORM.free
RATE_WINDOW = throttle.WEB_FORM.window


def get_form_source(project_slug: str, source_id: int) -> Source:
    """The source whose public form is on, with an active bucket to feed; else NotFound."""
    source = (
        Source.objects.select_related("project", "form_bucket")
        .filter(project__slug=project_slug, pk=source_id, form_enabled=True).first()
    )
    if source is None or source.form_bucket is None or not source.form_bucket.active:
        raise NotFound("This form is not available.")
    return source


def submit_form(source: Source, fields: dict[str, str], *, address: str) -> Submission | None:
    """Take one form post. A filled honeypot stores nothing and answers like a success (None);
    more than RATE_LIMIT posts of this form from one address in any RATE_WINDOW (sliding, so
    posts on both sides of a clock boundary count together) is RateLimited, with
    `retry_after` seconds; a refused post is not counted. The payload
    holds the form's fields (the project's custom fields under `custom`); the lead's source
    is the form's, the rest as the bucket's."""
    if (fields.get(HONEYPOT) or "").strip():
        return None
    attempt = throttle.attempt([(throttle.web_form_key(source.pk, address), throttle.WEB_FORM)])
    if attempt.wait:
        raise RateLimited("Too many submissions from your address. Try again in "
                          f"{throttle.in_words(attempt.wait)}.", retry_after=attempt.wait)
    payload = {k: fields[k] for k in FORM_FIELDS if (fields.get(k) or "").strip()}
    custom = {d.name: fields[d.name] for d in definitions_of(source.project_id)
              if (fields.get(d.name) or "").strip()}
    if custom:
        payload["custom"] = custom
    payload["form"] = {"source": source.name, "address": address}
    for key in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"):
        if fields.get(key):
            payload[key] = fields[key]
    return submit(source.form_bucket, payload, channel="form", source=source)


def forget_old_counters(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Drain the fixed-window counters the form used before the sliding window (nothing writes
    them any more)."""
    deleted, _ = RateCounter.objects.filter(window_start__lt=timezone.now() - older_than).delete()
    return deleted
