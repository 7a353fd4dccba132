"""Buckets (managers of their projects and admins): list, create, edit, rotate the key; a
bucket's submissions table with search, filters and the "Only unassigned leads" toggle; a
submission's detail page and reprocessing.

The API key is on the page answering the create or rotate POST and nowhere else: only its
SHA-256 is stored, and that page is never cached."""

from __future__ import annotations

import json

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from leadflow.accounts.access import is_manager
from leadflow.accounts.models import User
from leadflow.core.errors import Conflict, NotFound, ValidationFailed
from leadflow.core.pagination import paginate
from leadflow.intake.filters import SUBMISSION_ORDERINGS, apply_submission_filters
from leadflow.intake.models import Submission, SubmissionStatus
from leadflow.intake.services import buckets as bucket_services
from leadflow.intake.services import submissions as submission_services
from leadflow.projects.access import projects_visible_to
from leadflow.projects.models import Pool, Source
from leadflow.web import forms
from leadflow.web.views.base import (
    copy_errors,
    managed_project,
    require_configurer,
    ui_view,
    wants_partial,
)

PAGE_SIZE = 50
REPROCESSABLE = (SubmissionStatus.NEW, SubmissionStatus.REJECTED, SubmissionStatus.DUPLICATE)


def _members(project_id: int):
    return User.objects.filter(memberships__project_id=project_id).order_by("email")


def _bucket_form(project, data=None, **kwargs) -> forms.BucketForm:
    sources = Source.objects.filter(project=project).order_by("name")
    pool = Pool.objects.filter(project=project, is_default=True).first()
    in_pool = set(pool.members.values_list("pk", flat=True)) if pool else set()
    return forms.BucketForm(data, sources=sources, members=_members(project.pk),
                            in_pool=in_pool, **kwargs)


def _bucket_for(actor, bucket_id: int):
    require_configurer(actor)
    return bucket_services.get_bucket_for(actor, bucket_id)


def _key_page(request, bucket, key: str, *, created: bool):
    intake_url = request.build_absolute_uri(f"/api/v1/intake/{bucket.pk}")
    context = {"bucket": bucket, "api_key": key, "created": created, "intake_url": intake_url}
    response = render(request, "intake/bucket_key.html", context)
    add_never_cache_headers(response)
    return response


# --- buckets ---------------------------------------------------------------------------------


@require_GET
@ui_view
def bucket_list(request, actor):
    require_configurer(actor)
    buckets = list(
        bucket_services.buckets_visible_to(actor).select_related("default_manager")
        .order_by("name")
    )
    groups = []
    for project in projects_visible_to(actor).order_by("name"):
        rows = [b for b in buckets if b.project_id == project.pk]
        if rows or is_manager(actor, project.pk):
            groups.append({"project": project, "buckets": rows})
    return render(request, "intake/bucket_list.html", {"groups": groups})


@ui_view
def bucket_create(request, actor, project_id: int):
    project = managed_project(actor, project_id)
    form = _bucket_form(project, request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            bucket, key = bucket_services.create_bucket(
                project, actor=actor, **form.values(creating=True)
            )
        except ValidationFailed as exc:
            copy_errors(form, exc)
        except Conflict as exc:
            form.add_error("name", exc.detail)
        else:
            return _key_page(request, bucket, key, created=True)
    return render(request, "intake/bucket_form.html", {"project": project, "form": form})


@ui_view
def bucket_edit(request, actor, bucket_id: int):
    bucket = _bucket_for(actor, bucket_id)
    initial = {"name": bucket.name, "label": bucket.label, "source": bucket.source_id,
               "default_manager": bucket.default_manager_id,
               "affiliate_id": bucket.affiliate_id, "active": bucket.active,
               "creates": bucket.creates}
    form = _bucket_form(bucket.project, request.POST if request.method == "POST" else None,
                        initial=initial)
    if form.is_bound and form.is_valid():
        try:
            bucket_services.update_bucket(bucket, actor=actor, **form.values(creating=False))
        except ValidationFailed as exc:
            copy_errors(form, exc)
        except Conflict as exc:
            form.add_error("name", exc.detail)
        else:
            messages.success(request, f"Bucket {bucket.name} saved.")
            return redirect("intake:bucket_list")
        bucket.refresh_from_db()
    context = {"project": bucket.project, "form": form, "bucket": bucket}
    return render(request, "intake/bucket_form.html", context)


@ui_view
def bucket_rotate_key(request, actor, bucket_id: int):
    bucket = _bucket_for(actor, bucket_id)
    if request.method == "POST":
        key = bucket_services.rotate_bucket_key(bucket, actor=actor)
        return _key_page(request, bucket, key, created=False)
    return render(request, "intake/bucket_rotate.html", {"bucket": bucket})


# --- submissions -----------------------------------------------------------------------------


class SubmissionRow:
    """What the table shows of a submission, read as the API's `submission_out` reads it: the
    manager is the owner of the lead it created or duplicates."""

    def __init__(self, submission: Submission):
        self.submission = submission
        normalized = submission.normalized or {}
        self.email = normalized.get("email") or submission.email_key
        self.target = submission.lead if submission.lead_id else submission.duplicate_of
        self.manager = self.target.owner if self.target is not None else None
        # The payload's affiliate ID; a lead it created may have taken the bucket's instead.
        self.affiliate_id = normalized.get("affiliate_id") or (
            submission.lead.affiliate_id if submission.lead_id else ""
        )
        self.utm = normalized.get("utm") or {}
        self.can_reprocess = submission.status in REPROCESSABLE

    @property
    def pk(self) -> int:
        return self.submission.pk


def _submissions(bucket):
    return Submission.objects.filter(bucket=bucket).select_related(
        "lead__owner", "duplicate_of__owner"
    )


@require_GET
@ui_view
def bucket_detail(request, actor, bucket_id: int):
    bucket = _bucket_for(actor, bucket_id)
    form = forms.SubmissionFilterForm(request.GET)
    form.is_valid()
    filters = form.to_filters()
    rows, next_cursor = [], None
    try:
        qs = apply_submission_filters(_submissions(bucket), filters)
        found, next_cursor = paginate(
            qs, SUBMISSION_ORDERINGS[filters.ordering], limit=PAGE_SIZE,
            cursor=request.GET.get("cursor") or None,
        )
        rows = [SubmissionRow(s) for s in found]
    except ValidationFailed as exc:
        copy_errors(form, exc)
    context = {"bucket": bucket, "form": form, "rows": rows, "next_cursor": next_cursor,
               "paged": bool(request.GET.get("cursor")), "project": bucket.project,
               "next_url": request.get_full_path()}
    if wants_partial(request):
        return render(request, "intake/partials/_submission_table.html", context)
    form.load_choices(_members(bucket.project_id))
    return render(request, "intake/bucket_detail.html", context)


def _submission_for(actor, submission_id: int) -> Submission:
    require_configurer(actor)
    visible = bucket_services.buckets_visible_to(actor).values("pk")
    submission = (
        Submission.objects.select_related("bucket__project", "lead__owner", "duplicate_of__owner")
        .filter(pk=submission_id, bucket_id__in=visible).first()
    )
    if submission is None:
        raise NotFound("Submission not found.")
    return submission


@require_GET
@ui_view
def submission_detail(request, actor, submission_id: int):
    submission = _submission_for(actor, submission_id)
    context = {
        "submission": submission,
        "row": SubmissionRow(submission),
        "bucket": submission.bucket,
        "raw_json": json.dumps(submission.raw, indent=2, ensure_ascii=False, sort_keys=True),
        "attempts": list(submission.attempt_rows.all()),
    }
    return render(request, "intake/submission_detail.html", context)


def _back_to(request, submission) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("intake:bucket_detail", args=[submission.bucket_id])


@require_POST
@ui_view
def submission_reprocess(request, actor, submission_id: int):
    submission = _submission_for(actor, submission_id)
    notice, failed = "", False
    try:
        submission = submission_services.reprocess_submission(submission, actor=actor)
    except Conflict as exc:
        notice, failed = exc.detail, True
    else:
        notice = f"Submission #{submission.pk} reprocessed: {submission.get_status_display()}."
    if wants_partial(request):
        submission = _submission_for(actor, submission.pk)
        context = {"row": SubmissionRow(submission), "notice": notice, "failed": failed,
                   "bucket": submission.bucket, "project": submission.bucket.project,
                   "next_url": _back_to(request, submission)}
        return render(request, "intake/partials/_submission_row.html", context)
    (messages.error if failed else messages.success)(request, notice)
    return redirect(_back_to(request, submission))
