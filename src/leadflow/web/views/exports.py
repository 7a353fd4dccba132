"""Export screens: choose the format and columns for the leads list's current filter, the
user's exports with their state, and the download."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from leadflow.core.errors import ValidationFailed
from leadflow.core.pagination import Ordering, paginate
from leadflow.exports import services
from leadflow.exports.access import exports_of, get_export_for
from leadflow.web.forms import LeadFilterForm
from leadflow.web.forms_lists import ExportForm
from leadflow.web.views.base import copy_errors, ui_view, wants_partial

EXPORT_ORDER = Ordering("created_at", True, kind="datetime")
PAGE = 50
# The leads list's query names that are not filters.
NOT_FILTERS = ("cursor",)


def filter_query(data: QueryDict) -> str:
    """The leads list's filter as a query string (paging left out)."""
    query = data.copy()
    for name in NOT_FILTERS:
        query.pop(name, None)
    return query.urlencode()


@ui_view
def export_new(request, actor):
    """GET: the export form for the filter in the query string; POST: start the export."""
    source = request.POST.get("filter", "") if request.method == "POST" else filter_query(
        request.GET)
    filter_form = LeadFilterForm(QueryDict(source))
    filter_form.is_valid()
    filters = filter_form.to_filters(actor.user)
    form = ExportForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            job = services.start_export(filters, actor=actor, fmt=form.cleaned_data["format"],
                                        columns=form.chosen_columns())
        except ValidationFailed as exc:
            copy_errors(form, exc)
        else:
            messages.success(request, f"Export #{job.pk} started; it appears below when ready.")
            return redirect("exports:export_list")
    described = [f"{name}: {value}" for name, value in filter_form.cleaned_data.items()
                 if value not in (None, "", False)] if hasattr(filter_form, "cleaned_data") else []
    context = {"form": form, "filter": source, "described": described}
    return render(request, "exports/export_new.html", context)


@require_GET
@ui_view
def export_list(request, actor):
    rows, next_cursor = paginate(exports_of(actor), EXPORT_ORDER, limit=PAGE,
                                 cursor=request.GET.get("cursor") or None)
    context = {"exports": rows, "next_cursor": next_cursor,
               "running": any(job.state in ("queued", "running") for job in rows)}
    if wants_partial(request):
        return render(request, "exports/partials/_export_table.html", context)
    return render(request, "exports/export_list.html", context)


@require_GET
@ui_view
def export_download(request, actor, export_id: int):
    handle, filename, content_type = services.open_export(get_export_for(actor, export_id))
    return FileResponse(handle, as_attachment=True, filename=filename,
                        content_type=content_type)
