"""Imports screens: upload (file, project, policy, list, dry run) → mapping with a preview of
the first rows → a dry-run report → the import, with a progress bar polled through htmx and a
link to the rejected rows."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from leadflow.accounts import access as project_access
from leadflow.accounts.models import Grant
from leadflow.core.errors import NotFound, ValidationFailed
from leadflow.imports import services
from leadflow.imports.models import OUTCOMES
from leadflow.jobs.models import JobState
from leadflow.projects.access import get_project_for, projects_visible_to
from leadflow.projects.fields import definitions_of
from leadflow.web.forms_imports import ImportUploadForm, field_choices
from leadflow.web.views.base import copy_errors, ui_view, wants_partial

DRAFTS = "import_drafts"


def _projects(actor):
    visible = projects_visible_to(actor)
    return visible.filter(pk__in=[p.pk for p in visible
                                  if project_access.has_grant(actor, p.pk, Grant.CREATE_LEAD)])


@ui_view
def import_list(request, actor):
    """The upload form and the imports the user may follow."""
    form = ImportUploadForm(request.POST or None, request.FILES or None,
                            projects=_projects(actor))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.check_import_allowed(actor, data["project"], policy=data["policy"],
                                          list_name=data["list_name"])
            upload = services.store_upload(data["file"], data["file"].name)
        except ValidationFailed as exc:
            copy_errors(form, exc)
        else:
            drafts = request.session.get(DRAFTS, {})
            drafts = dict(list(drafts.items())[-9:])  # a few drafts per session at most
            drafts[upload.name] = {
                "filename": upload.filename, "project": data["project"].pk,
                "policy": data["policy"], "list_name": data["list_name"],
                "dry_run": data["dry_run"],
            }
            request.session[DRAFTS] = drafts
            return redirect("imports:import_mapping", name=upload.name)
    imports = list(services.imports_visible_to(actor)[:20])
    return render(request, "imports/import_list.html", {"form": form, "imports": imports},
                  status=400 if form.errors else 200)


@ui_view
def import_mapping(request, actor, name: str):
    """Each column with the field it fills (suggestions pre-selected) and the first rows."""
    draft = request.session.get(DRAFTS, {}).get(name)
    if draft is None:
        raise NotFound("This upload is not yours or has expired; upload it again.")
    project = get_project_for(actor, draft["project"])
    upload = services.open_upload(name, draft["filename"])
    fields = definitions_of(project.pk)
    suggested = services.suggest(upload.columns, fields)
    chosen = list(suggested)
    errors = []
    if request.method == "POST":
        chosen = [request.POST.get(f"col{i}", "") for i in range(len(upload.columns))]
        try:
            imp = services.start_import(
                project, upload, actor=actor, mapping=dict(zip(upload.columns, chosen,
                                                               strict=True)),
                policy=draft["policy"], list_name=draft["list_name"],
                dry_run=draft["dry_run"])
        except ValidationFailed as exc:
            errors = [e.message for e in exc.errors]
        else:
            request.session[DRAFTS] = {k: v for k, v in request.session[DRAFTS].items()
                                       if k != name}
            return redirect("imports:import_detail", import_id=imp.pk)
    choices = field_choices(fields)
    columns = [
        {"index": i, "name": column, "choices": choices, "chosen": chosen[i],
         "suggested": suggested[i]}
        for i, column in enumerate(upload.columns)
    ]
    context = {"draft": draft, "project": project, "upload": upload, "columns": columns,
               "preview": services.preview_rows(upload), "errors": errors}
    return render(request, "imports/import_mapping.html", context,
                  status=400 if errors else 200)


def _detail_context(imp) -> dict:
    out = services.import_out(imp)
    total = out["progress"]["total"]
    done = out["progress"]["done"]
    running = out["state"] in (JobState.QUEUED, JobState.RUNNING)
    return {
        "imp": imp, "out": out, "running": running,
        "percent": int(done * 100 / total) if total else (0 if running else 100),
        "counts": [(name, out["counts"][name]) for name in OUTCOMES],
    }


@ui_view
def import_detail(request, actor, import_id: int):
    imp = services.get_import_for(actor, import_id)
    template = ("imports/partials/_import_progress.html" if wants_partial(request)
                else "imports/import_detail.html")
    return render(request, template, _detail_context(imp))


@require_POST
@ui_view
def import_run(request, actor, import_id: int):
    """Run a finished dry run for real, with the same file, mapping, policy and list."""
    imp = services.get_import_for(actor, import_id)
    if not imp.dry_run:
        raise NotFound("Only a dry run can be run again.")
    new = services.rerun_import(imp, actor=actor)
    messages.success(request, f"Import of {imp.filename} started.")
    return redirect("imports:import_detail", import_id=new.pk)
