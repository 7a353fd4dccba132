from django.urls import include, path

from leadflow.api import api, docs, openapi_json

urlpatterns = [
    path("api/openapi.json", openapi_json, name="openapi"),
    path("api/docs", docs, name="api_docs"),
    path("api/v1/", api.urls),
    path("", include("leadflow.web.urls")),
]
