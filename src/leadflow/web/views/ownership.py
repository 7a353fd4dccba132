"""Ownership actions: the lead page's panel (assign, unassign, route, offer, cancel, claim,
take ownership, release, accept, decline), bulk actions of the leads list, and the owner
choices of a pool.

Each action answers the panel for htmx (with the timeline refreshed out of band) or, without
JavaScript, redirects back to where its form was (`next`) or to the lead page. A refusal of
the service (ValidationFailed, Conflict, PermissionDenied) is shown in the panel or as a
message, never as an error page; an action that takes the lead out of the actor's sight sends
them back to the list."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from leadflow.accounts.access import require_manager
from leadflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from leadflow.crm import services
from leadflow.crm.access import get_lead_for, get_lead_in_my_pools, get_offer_for, leads_visible_to
from leadflow.crm.ownership_selectors import pools_managed_by
from leadflow.crm.services.ownership import BULK_LIMIT
from leadflow.projects.access import get_pool_for, pools_of_project
from leadflow.web.forms import AssignForm, BulkLeadsForm, pool_members
from leadflow.web.views.base import copy_errors, require_configurer, ui_view, wants_partial
from leadflow.web.views.leads import detail_context
from leadflow.web.views.ownership_panel import offer_form_for

REFUSALS = (ValidationFailed, Conflict, PermissionDenied)
BULK_ERRORS_SHOWN = 10


def safe_next(request) -> str | None:
    """Where the form asked to go back to, if it is a page of this site."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def refusal_text(exc) -> str:
    if isinstance(exc, ValidationFailed) and exc.errors:
        return " ".join(error.message for error in exc.errors)
    return exc.detail


def _answer(request, actor, lead_id: int, *, done: str | None = None, error: str | None = None,
            assign_form=None, offer_form=None, open_dialog: str = "", default_next=None):
    """The response after an action on a lead (see the module docstring)."""
    target = safe_next(request)
    try:
        lead = get_lead_for(actor, lead_id, "view")
    except NotFound:
        # Released, declined or offered away: the lead is no longer the actor's to see.
        if done:
            messages.success(request, done)
        elif error:
            messages.error(request, error)
        target = target or default_next or reverse("crm:lead_list")
        return HttpResponseClientRedirect(target) if wants_partial(request) else redirect(target)
    dialog_errors = assign_form is not None or offer_form is not None
    if not wants_partial(request) and (done or (target and not dialog_errors)):
        if done:
            messages.success(request, done)
        else:
            messages.error(request, error)
        return redirect(target or reverse("crm:lead_detail", args=[lead.pk]))
    context = detail_context(actor, lead, assign_form=assign_form, offer_form=offer_form,
                             error=error, open_dialog=open_dialog)
    if wants_partial(request):
        context["refresh_timeline"] = bool(done)
        context["done_message"] = done
        return render(request, "crm/partials/_ownership.html", context)
    return render(request, "crm/lead_detail.html", context)


def _run(request, actor, lead, action, done: str):
    try:
        action(lead)
    except REFUSALS as exc:
        return _answer(request, actor, lead.pk, error=refusal_text(exc))
    return _answer(request, actor, lead.pk, done=done)


def _posted_id(raw) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


@require_POST
@ui_view
def lead_assign(request, actor, lead_id: int):
    lead = get_lead_for(actor, lead_id, "manage")
    pools = pools_of_project(lead.project_id)
    chosen = _posted_id(request.POST.get("pool"))
    pool_id = chosen if chosen in {p.pk for p in pools} else lead.pool_id
    form = AssignForm(request.POST, pools=pools, members=pool_members(pool_id))
    if form.is_valid():
        try:
            lead = services.assign(lead, actor=actor, pool=form.chosen_pool(),
                                   owner=form.chosen_owner(), note=form.cleaned_data["note"])
        except ValidationFailed as exc:
            copy_errors(form, exc)
        except (Conflict, PermissionDenied) as exc:
            form.add_error(None, exc.detail)
        else:
            who = lead.owner.label if lead.owner else "nobody"
            return _answer(request, actor, lead.pk,
                           done=f"Assigned to {who} in pool {lead.pool.name}.")
    return _answer(request, actor, lead.pk, assign_form=form, open_dialog="assign")


@require_POST
@ui_view
def lead_unassign(request, actor, lead_id: int):
    lead = get_lead_for(actor, lead_id, "manage")
    reason = request.POST.get("reason", "")
    return _run(request, actor, lead,
                lambda lead: services.unassign(lead, actor=actor, reason=reason),
                "Lead unassigned: it waits in its pool.")


@require_POST
@ui_view
def lead_route(request, actor, lead_id: int):
    lead = get_lead_for(actor, lead_id, "manage")
    return _run(request, actor, lead, lambda lead: services.route_lead(lead, actor=actor),
                "Lead routed by the distribution rules.")


@require_POST
@ui_view
def lead_offer(request, actor, lead_id: int):
    lead = get_lead_for(actor, lead_id, "manage")
    form = offer_form_for(lead, request.POST)
    if form.is_valid():
        try:
            offer = services.make_offer(lead, actor=actor, **form.offer_args())
        except ValidationFailed as exc:
            copy_errors(form, exc)
        except (Conflict, PermissionDenied) as exc:
            form.add_error(None, exc.detail)
        else:
            count = offer.recipients.count()
            return _answer(request, actor, lead.pk,
                           done=f"Offered to {count} {'person' if count == 1 else 'people'}.")
    return _answer(request, actor, lead.pk, offer_form=form, open_dialog="offer")


@require_POST
@ui_view
def lead_claim(request, actor, lead_id: int):
    lead = get_lead_in_my_pools(actor, lead_id)
    return _run(request, actor, lead, lambda lead: services.claim(lead, actor=actor),
                "Lead claimed: take ownership before the claim ends.")


@require_POST
@ui_view
def lead_take(request, actor, lead_id: int):
    lead = get_lead_in_my_pools(actor, lead_id)
    return _run(request, actor, lead, lambda lead: services.take_ownership(lead, actor=actor),
                "You own this lead now.")


@require_POST
@ui_view
def lead_release(request, actor, lead_id: int):
    lead = get_lead_for(actor, lead_id, "view")
    return _run(request, actor, lead, lambda lead: services.release(lead, actor=actor),
                "Lead handed back to its pool.")


@require_POST
@ui_view
def offer_cancel(request, actor, offer_id: int):
    offer = get_offer_for(actor, offer_id)
    try:
        services.cancel_offer(offer, actor=actor)
    except REFUSALS as exc:
        return _answer(request, actor, offer.lead_id, error=refusal_text(exc))
    return _answer(request, actor, offer.lead_id, done="Offer cancelled.")


@require_POST
@ui_view
def offer_accept(request, actor, offer_id: int):
    offer = get_offer_for(actor, offer_id)
    inbox = reverse("work:offer_inbox")
    try:
        services.accept_offer(offer, actor=actor)
    except REFUSALS as exc:
        return _answer(request, actor, offer.lead_id, error=refusal_text(exc),
                       default_next=inbox)
    return _answer(request, actor, offer.lead_id, done="Offer accepted: the lead is yours.")


@require_POST
@ui_view
def offer_decline(request, actor, offer_id: int):
    offer = get_offer_for(actor, offer_id)
    inbox = reverse("work:offer_inbox")
    reason = request.POST.get("reason", "")
    try:
        services.decline_offer(offer, actor=actor, reason=reason)
    except REFUSALS as exc:
        return _answer(request, actor, offer.lead_id, error=refusal_text(exc),
                       default_next=inbox)
    return _answer(request, actor, offer.lead_id, done="Offer declined.", default_next=inbox)


# --- bulk ----------------------------------------------------------------------------------


def bulk_form(actor, data=None) -> BulkLeadsForm:
    from leadflow.lists.access import campaigns_visible_to, lists_visible_to

    pools = pools_managed_by(actor)
    projects = {p.project_id for p in pools}
    lists = lists_visible_to(actor).filter(project_id__in=projects).order_by("name", "pk")
    campaigns = campaigns_visible_to(actor).filter(project_id__in=projects).order_by("name",
                                                                                    "pk")
    return BulkLeadsForm(data, pools=pools, owners=pool_members([p.pk for p in pools]),
                         lists=lists, campaigns=campaigns)


def _filters_of(request, back: str):
    """The leads list's filter the bulk bar was shown with (the query of its `next`)."""
    from django.http import QueryDict

    from leadflow.web.forms import LeadFilterForm

    form = LeadFilterForm(QueryDict(urlsplit(back).query))
    form.is_valid()
    return form.to_filters(request.user)


@require_POST
@ui_view
def lead_bulk(request, actor):
    """Apply an action to the ticked leads (at most 1,000), or to every lead matching the
    list's filter (over 1,000 as a job), and say what happened to each: done, skipped
    (already so) or refused, with the reason."""
    require_configurer(actor, "Only managers act on many leads at once.")
    form = bulk_form(actor, request.POST)
    back = safe_next(request) or reverse("crm:lead_list")
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(back)
    action = form.cleaned_data["action"]
    label = dict(form.fields["action"].choices)[action]
    if form.cleaned_data["all_matching"]:
        return _bulk_by_filter(request, actor, form, action, label, back)
    ids = form.chosen_ids()
    if not ids:
        messages.error(request, "Tick at least one lead.")
        return redirect(back)
    try:
        if len(ids) > BULK_LIMIT:
            raise ValidationFailed.one("ids", "too_many",
                                       f"At most {services.ownership.BULK_LIMIT:,} leads at once.")
        found = {lead.pk: lead for lead in leads_visible_to(actor).select_related(
            "project", "pool", "source", "bucket", "stage").filter(pk__in=ids)}
        result = services.bulk_leads(action, [found[i] for i in ids if i in found],
                                     form.params(), actor=actor)
    except REFUSALS as exc:
        messages.error(request, refusal_text(exc))
        return redirect(back)
    errors = [{"lead": i, "detail": "Lead not found."} for i in ids if i not in found]
    _bulk_messages(request, label, result, errors + result["errors"])
    return redirect(back)


def _bulk_by_filter(request, actor, form, action: str, label: str, back: str):
    from leadflow.crm.filters import apply_lead_filters

    filters = _filters_of(request, back)
    try:
        job = services.start_bulk_job(action, filters, form.params(), actor=actor)
        if job is None:
            leads = list(apply_lead_filters(leads_visible_to(actor), filters)
                         .select_related("project", "pool", "source", "bucket", "stage")
                         .order_by("pk")[:BULK_LIMIT])
            result = services.bulk_leads(action, leads, form.params(), actor=actor)
    except REFUSALS as exc:
        messages.error(request, refusal_text(exc))
        return redirect(back)
    if job is not None:
        messages.success(request, f"{label}: more than {BULK_LIMIT:,} leads match; job "
                         f"#{job.pk} works through them in the background.")
    else:
        _bulk_messages(request, label, result, result["errors"])
    return redirect(back)


def _bulk_messages(request, label: str, result: dict, errors: list) -> None:
    summary = f"{label}: {result['done']} done, {result['skipped']} skipped"
    summary += f", {len(errors)} refused." if errors else "."
    messages.success(request, summary)
    if errors:
        lines = [f"#{e['lead']}: {e['detail']}" for e in errors[:BULK_ERRORS_SHOWN]]
        if len(errors) > BULK_ERRORS_SHOWN:
            lines.append(f"and {len(errors) - BULK_ERRORS_SHOWN} more")
        messages.error(request, "Refused — " + "; ".join(lines))


@require_GET
@ui_view
def pool_owner_options(request, actor):
    """The owner choices for a pool chosen in an assign form (managers of its project)."""
    pool_id = _posted_id(request.GET.get("pool"))
    if pool_id is None:
        members = pool_members([p.pk for p in pools_managed_by(actor)])
    else:
        pool = get_pool_for(actor, pool_id)
        require_manager(actor, pool.project_id)
        members = pool_members(pool.pk)
    return render(request, "crm/partials/_owner_options.html", {"members": members})
