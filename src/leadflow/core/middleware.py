"""Body-size guard for the JSON API: a body over 1 MB is 413, never read into memory. Batch
intake checks 1 MB per item instead; uploads have their own limit."""

from django.http import JsonResponse

MAX_BODY = 1024 * 1024
UPLOAD_PATHS = ("/api/v1/imports",)


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
