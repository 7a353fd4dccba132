"""Response guards: the JSON API's body-size limit (a body over 1 MB is 413, never read into
memory; batch intake checks 1 MB per item instead; uploads have their own limit) and the
Content-Security-Policy of every response."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from leadflow.core.errors import ValidationFailed
from leadflow.core.text import check_query

MAX_BODY = 1024 * 1024
UPLOAD_PATHS = ("/api/v1/imports",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class ApiBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        batch = path.startswith("/api/v1/intake/") and path.endswith("/batch")
        if path.startswith("/api/") and not path.startswith(UPLOAD_PATHS) and not batch:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > MAX_BODY:
                return JsonResponse({"detail": "Request body is over 1 MB."}, status=413)
        return self.get_response(request)


# Everything the UI loads comes from this server: its own script and stylesheet files, no inline
# code, no eval (htmx's own eval is switched off by the page's htmx-config). `data:` images are the
# empty favicon and Swagger UI's icons.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# Pages a view marked embeddable (xframe_options_exempt: the public web forms) may be framed by
# any site that embeds them; everything else about the policy stays.
EMBEDDABLE_POLICY = CONTENT_SECURITY_POLICY.replace(
    "frame-ancestors 'none'", "frame-ancestors *"
)


class ContentSecurityPolicyMiddleware:
    """Sends the strict Content-Security-Policy on every response that does not set its own.

    A small middleware rather than the django-csp package: one fixed policy needs no nonces,
    no per-view configuration and no extra dependency. Views that Django's clickjacking
    decorator marks `xframe_options_exempt` get `frame-ancestors *` instead of 'none'. With
    DEBUG on, 404 and 500 answers are Django's own debug pages, built on inline styles and
    scripts: they go without a policy (`check --deploy` reports DEBUG)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        debug_page = settings.DEBUG and response.status_code in (404, 500)
        if "Content-Security-Policy" not in response and not debug_page:
            embeddable = getattr(response, "xframe_options_exempt", False)
            response["Content-Security-Policy"] = (
                EMBEDDABLE_POLICY if embeddable else CONTENT_SECURITY_POLICY
            )
        return response


class UnstorableInputMiddleware:
    """The UI's query strings and form fields with text no database stores (a NUL character)
    get a 400 page instead of a failing query. The API checks its own input in its parser
    (`leadflow.core.api.CheckedParser`), with per-field JSON errors; uploads are read by
    their forms."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            try:
                check_query(request.GET)
                if request.method == "POST" and request.content_type in FORM_TYPES:
                    check_query(request.POST)
            except ValidationFailed:
                context = {"status": 400, "title": "Text that cannot be saved",
                           "detail": "Part of what was sent contains a character that cannot "
                                     "be saved (a NUL character). Remove it and try again."}
                return render(request, "error.html", context, status=400)
        return self.get_response(request)
