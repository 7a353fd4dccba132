"""The admins' personal-data screen: find what is held about a person in a project, download
it as JSON, or erase it after a preview and a confirmation."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from leadflow.accounts.access import require_admin
from leadflow.core.errors import ValidationFailed
from leadflow.privacy import services
from leadflow.privacy.models import Erasure
from leadflow.web.forms_privacy import PersonForm
from leadflow.web.views.base import ui_view

PREVIEW_NAMES = 20


def _field_errors(form: PersonForm, exc: ValidationFailed) -> None:
    """A service's `email`/`phone` errors belong to the form's one `person` field."""
    for error in exc.errors:
        form.add_error("person", error.message)


@ui_view
def personal_data(request, actor):
    """The form; with a project and a person given (a GET), what is held about them and the
    buttons to download it or erase it."""
    require_admin(actor)
    form = PersonForm(request.GET if "person" in request.GET else None)
    person, names, more = None, [], 0
    if form.is_bound and form.is_valid():
        try:
            person = services.find_person(form.cleaned_data["project"], actor=actor,
                                          **form.identifier())
        except ValidationFailed as exc:
            _field_errors(form, exc)
        else:
            names = list(person.leads().values_list("name", flat=True)[:PREVIEW_NAMES])
            more = len(person.lead_ids) - len(names)
    erasures = Erasure.objects.select_related("project")[:20]
    return render(request, "config/personal_data.html", {
        "form": form, "person": person, "names": names, "more": more, "erasures": erasures,
    })


@ui_view
def personal_data_export(request, actor):
    """Everything held about the person as a JSON download."""
    require_admin(actor)
    form = PersonForm(request.GET)
    if not form.is_valid():
        return redirect("config:personal_data")
    try:
        data = services.export_person(form.cleaned_data["project"], actor=actor,
                                      **form.identifier())
    except ValidationFailed as exc:
        _field_errors(form, exc)
        return render(request, "config/personal_data.html",
                      {"form": form, "erasures": Erasure.objects.none()}, status=400)
    response = HttpResponse(json.dumps(data, cls=DjangoJSONEncoder, indent=2,
                                       ensure_ascii=False),
                            content_type="application/json; charset=utf-8")
    name = f"personal-data-{form.cleaned_data['project'].slug}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_POST
@ui_view
def personal_data_erase(request, actor):
    """Erase what is held about the person, then back to the form with the outcome."""
    require_admin(actor)
    form = PersonForm(request.POST)
    if not form.is_valid():
        return render(request, "config/personal_data.html",
                      {"form": form, "erasures": Erasure.objects.none()}, status=400)
    project = form.cleaned_data["project"]
    try:
        result = services.erase_person(project, actor=actor, **form.identifier())
    except ValidationFailed as exc:
        _field_errors(form, exc)
        return render(request, "config/personal_data.html",
                      {"form": form, "erasures": Erasure.objects.none()}, status=400)
    given = result.person.given
    if result.erasure is None:
        messages.info(request, f"Nothing is held about {given} in {project.name}; "
                               "nothing was erased.")
    else:
        messages.success(request, f"Erased {services.describe_counts(result.counts)} of "
                                  f"{given} in {project.name}.")
    return redirect("config:personal_data")
