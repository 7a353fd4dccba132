"""The one NinjaAPI: authentication, the error shape of DESIGN §4, and each app's router."""

from __future__ import annotations

from django.http import Http404, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.docs import Swagger

from leadflow.core.api import BearerAuth, SessionAuth
from leadflow.core.errors import DomainError, RateLimited, ValidationFailed

api = NinjaAPI(
    title="Leadflow API",
    version="1",
    urls_namespace="api",
    auth=[BearerAuth(), SessionAuth()],
    docs_url=None,
    openapi_url=None,
)


class ContractSwagger(Swagger):
    """Ninja's bundled Swagger UI (no CDN), reading the schema from /api/openapi.json."""

    def get_openapi_url(self, api, path_params):
        return "/api/openapi.json"


def openapi_json(request):
    return JsonResponse(api.get_openapi_schema(path_prefix="/api/v1/"))


def docs(request):
    return ContractSwagger().render_page(request, api)

CODES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "string_too_long": "too_long",
    "too_long": "too_many",
    "json_invalid": "invalid_json",
}


LOCATIONS = ("body", "query", "path", "form", "file", "header", "cookie")


def _field(loc) -> str:
    loc = list(loc)
    if loc and loc[0] in LOCATIONS:
        loc = loc[1:]
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "payload", "filters")]
    return ".".join(parts) or "body"


@api.exception_handler(NinjaValidationError)
def _schema_error(request, exc: NinjaValidationError):
    errors = [
        {
            "field": _field(e.get("loc", ())),
            "code": CODES.get(e.get("type", ""), "invalid"),
            "message": e.get("msg", "Invalid value."),
        }
        for e in exc.errors
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid input."
    return api.create_response(request, {"detail": detail, "errors": errors}, status=400)


@api.exception_handler(DomainError)
def _domain_error(request, exc: DomainError):
    body = {"detail": exc.detail, "code": exc.code}
    if isinstance(exc, ValidationFailed):
        body["errors"] = [e.as_dict() for e in exc.errors]
    elif isinstance(exc, RateLimited):
        body["errors"] = []
    body.update({k: v for k, v in exc.extra.items() if k != "field"})
    response = api.create_response(request, body, status=exc.status)
    if isinstance(exc, RateLimited) and exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(AuthenticationError)
def _auth_error(request, exc):
    return api.create_response(request, {"detail": "Authentication required."}, status=401)


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    body = {"detail": str(exc)}
    if exc.status_code == 400:
        body["errors"] = [{"field": "body", "code": "invalid_json", "message": str(exc)}]
    return api.create_response(request, body, status=exc.status_code)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return api.create_response(request, {"detail": "Not found."}, status=404)


def _routers() -> None:
    from leadflow.accounts.api import router as accounts_router
    from leadflow.activities.api import router as activities_router
    from leadflow.clients.api import router as clients_router
    from leadflow.crm.api import router as crm_router
    from leadflow.exports.api import router as exports_router
    from leadflow.imports.api import router as imports_router
    from leadflow.intake.api import router as intake_router
    from leadflow.jobs.api import router as jobs_router
    from leadflow.lists.api import router as lists_router
    from leadflow.privacy.api import router as privacy_router
    from leadflow.projects.api import router as projects_router
    from leadflow.routing.api import router as routing_router
    from leadflow.tags.api import router as tags_router

    # URLs are matched in this order: intake first, the busiest by far (a request walks the
    # patterns before its own).
    api.add_router("/", intake_router)
    api.add_router("/", accounts_router)
    api.add_router("/", projects_router)
    api.add_router("/", crm_router)
    api.add_router("/", jobs_router)
    api.add_router("/", routing_router)
    api.add_router("/", tags_router)
    api.add_router("/", activities_router)
    api.add_router("/", clients_router)
    api.add_router("/", lists_router)
    api.add_router("/", exports_router)
    api.add_router("/", imports_router)
    api.add_router("/", privacy_router)


_routers()
