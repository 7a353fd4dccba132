"""The public web-to-lead form of a source: no login, CSRF on, embeddable in an iframe.

These two views alone drop X-Frame-Options: the form and the thank-you page it leads to are
what a site embeds; every other page keeps DENY. A rejected submission's field errors come back
onto the form; a duplicate is a success for the visitor (the lead exists already)."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from leadflow.core.clientaddress import client_address
from leadflow.core.errors import NotFound, RateLimited
from leadflow.intake.models import SubmissionStatus
from leadflow.intake.services import webforms
from leadflow.projects.fields import definitions_of
from leadflow.web.forms import CUSTOM_PREFIX, UTM_FIELDS, PublicLeadForm

# Submission error fields → form fields; anything else is shown above the form.
ERROR_FIELDS = {"name": "name", "email": "email", "phones": "phone", "phone": "phone",
                "company": "company", "message": "message"}


def _unavailable(request, status: int, title: str, detail: str):
    context = {"status": status, "title": title, "detail": detail}
    return render(request, "webforms/unavailable.html", context, status=status)


def _copy_submission_errors(form: PublicLeadForm, errors: list[dict]) -> None:
    for error in errors:
        field = error.get("field", "")
        name = ERROR_FIELDS.get(field.partition("[")[0])
        if field.startswith("custom.") and CUSTOM_PREFIX + field[7:] in form.fields:
            name = CUSTOM_PREFIX + field[7:]
        form.add_error(name, error.get("message") or "This value was refused.")


# The public form is anonymous and embedded on other sites, where browsers withhold the CSRF
# cookie from a cross-site iframe. CSRF guards a logged-in session; this view acts for no one
# and grants nothing an attacker could not post directly, so it is exempt. Abuse is held off by
# the honeypot and the per-address rate limit instead.
@xframe_options_exempt
@csrf_exempt
@require_http_methods(["GET", "POST"])
def public_form(request, project_slug: str, source_id: int):
    try:
        source = webforms.get_form_source(project_slug, source_id)
    except NotFound as exc:
        return _unavailable(request, 404, "Form not available", exc.detail)
    definitions = definitions_of(source.project_id)
    if request.method == "POST":
        form = PublicLeadForm(request.POST, definitions=definitions)
        if form.is_valid():
            try:
                submission = webforms.submit_form(
                    source, form.fields_for_submission(), address=client_address(request)
                )
            except RateLimited as exc:
                response = _unavailable(request, 429, "Too many submissions", exc.detail)
                if exc.retry_after:
                    response["Retry-After"] = str(exc.retry_after)
                return response
            if submission is not None and submission.status == SubmissionStatus.REJECTED:
                _copy_submission_errors(form, submission.errors)
            else:
                return redirect("webforms:thanks", project_slug, source.pk)
    else:
        form = PublicLeadForm(utm={key: request.GET.get(key, "")[:200] for key in UTM_FIELDS},
                              definitions=definitions)
    return render(request, "webforms/form.html", {"form": form, "source": source})


@xframe_options_exempt
@require_GET
def public_form_thanks(request, project_slug: str, source_id: int):
    try:
        source = webforms.get_form_source(project_slug, source_id)
    except NotFound as exc:
        return _unavailable(request, 404, "Form not available", exc.detail)
    return render(request, "webforms/thanks.html", {"source": source})
