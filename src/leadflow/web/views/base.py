"""What every UI view shares: login, the actor, and turning domain errors into pages and forms.

NotFound is the 404 page and PermissionDenied the 403 page, wherever they are raised. Views catch
ValidationFailed (copied onto the form) and Conflict (shown as a message) themselves, because only
they know which form or message fits; an uncaught one still answers a page, never a 500.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render, resolve_url
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

from leadflow.accounts.access import can_configure, require_manager
from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from leadflow.projects.access import get_project_for


def ui_view(view):
    """Require a logged-in user, pass `Actor(request.user, "ui")`, translate domain errors."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            if request.htmx:
                login = resolve_url(settings.LOGIN_URL)
                return HttpResponseClientRedirect(
                    f"{login}?{urlencode({'next': request.htmx.current_url_abs_path or '/'})}"
                )
            return redirect_to_login(request.get_full_path())
        actor = Actor(request.user, "ui")
        try:
            response = view(request, actor, *args, **kwargs)
        except NotFound as exc:
            return error_page(request, 404, "Not found", exc.detail)
        except PermissionDenied as exc:
            return error_page(request, 403, "Not allowed", exc.detail)
        except ValidationFailed as exc:
            return error_page(request, 400, "Invalid request", exc.detail)
        except Conflict as exc:
            return error_page(request, 409, "Conflict", exc.detail)
        # Full page and partial share a URL: caches must keep them apart.
        patch_vary_headers(response, ["HX-Request"])
        return response

    return wrapper


def error_page(request, status: int, title: str, detail: str):
    template = {403: "403.html", 404: "404.html"}.get(status, "error.html")
    context = {"status": status, "title": title, "detail": detail}
    return render(request, template, context, status=status)


def wants_partial(request) -> bool:
    """An htmx request for a fragment; a history restore needs the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def copy_errors(form, exc: ValidationFailed) -> None:
    """Put each field error of a service onto the form field it names (`phones[1]` → `phones`,
    `custom.budget` → `custom__budget`); errors naming no field of the form become form-wide
    errors."""
    for error in exc.errors:
        name, _, rest = error.field.partition("[")
        if name.startswith("custom.") and f"custom__{name[7:]}" in form.fields:
            form.add_error(f"custom__{name[7:]}", error.message)
            continue
        name = name.split(".")[0]
        message = error.message
        if rest and rest[:-1].isdigit():
            message = f"Phone {int(rest[:-1]) + 1}: {message}" if name == "phones" else message
        if name in form.fields:
            form.add_error(name, message)
        else:
            form.add_error(None, f"{error.field}: {message}" if error.field else message)


def managed_project(actor, project_id: int):
    """The project, if the actor manages it: non-members get 404, agents 403."""
    project = get_project_for(actor, project_id)
    require_manager(actor, project.pk)
    return project


def require_configurer(actor, detail: str = "Only managers and admins reach this screen.") -> None:
    """Screens spanning the projects a user manages: managers of some project and admins only.
    What each project shows is still narrowed by the readers (`*_visible_to`)."""
    if not can_configure(actor.user):
        raise PermissionDenied(detail)
