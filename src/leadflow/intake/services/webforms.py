"""Web-to-lead forms: a source's public form feeds its chosen bucket through the same path as
API intake, behind a honeypot and a per-address rate limit."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from leadflow.core.errors import NotFound, RateLimited
from leadflow.intake.models import RateCounter, Submission
from leadflow.intake.services.submissions import submit
from leadflow.projects.fields import definitions_of
from leadflow.projects.models import Source

FORM_FIELDS = ("name", "email", "phone", "company", "country", "message")
HONEYPOT = "website"
RATE_LIMIT = 5
RATE_WINDOW = timedelta(minutes=10)


def get_form_source(project_slug: str, source_id: int) -> Source:
    """The source whose public form is on, with an active bucket to feed; else NotFound."""
    source = (
        Source.objects.select_related("project", "form_bucket")
        .filter(project__slug=project_slug, pk=source_id, form_enabled=True).first()
    )
    if source is None or source.form_bucket is None or not source.form_bucket.active:
        raise NotFound("This form is not available.")
    return source


def hit(key: str, *, limit: int, window: timedelta) -> bool:
    """Count one request of `key` in the current fixed window; False once over `limit`."""
    now = timezone.now()
    seconds = int(window.total_seconds())
    start = now - timedelta(seconds=int(now.timestamp()) % seconds, microseconds=now.microsecond)
    if not RateCounter.objects.filter(key=key, window_start=start).update(count=F("count") + 1):
        try:
            with transaction.atomic():
                RateCounter.objects.create(key=key, window_start=start, count=1)
        except IntegrityError:  # another process opened the window first
            RateCounter.objects.filter(key=key, window_start=start).update(count=F("count") + 1)
    return RateCounter.objects.get(key=key, window_start=start).count <= limit


def submit_form(source: Source, fields: dict[str, str], *, address: str) -> Submission | None:
    """Take one form post. A filled honeypot stores nothing and answers like a success (None);
    more than RATE_LIMIT posts from one address in RATE_WINDOW is RateLimited. The payload
    holds the form's fields (the project's custom fields under `custom`); the lead's source
    is the form's, the rest as the bucket's."""
    if (fields.get(HONEYPOT) or "").strip():
        return None
    if not hit(f"form:{source.pk}:{address}", limit=RATE_LIMIT, window=RATE_WINDOW):
        raise RateLimited("Too many submissions from your address; try again later.")
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
    deleted, _ = RateCounter.objects.filter(window_start__lt=timezone.now() - older_than).delete()
    return deleted
