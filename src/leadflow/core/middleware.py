"""Body-size guard for the JSON API: a body over 1 MB is 413, never read into memory. Batch
intake checks 1 MB per item instead; uploads have their own limit."""

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
