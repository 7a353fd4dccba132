"""The OpenAPI document is honest: one schema per name, and every operation declares the
errors it can answer."""

from __future__ import annotations

import pytest
from ninja.openapi.schema import OpenAPISchema

from leadflow.api import api


def _generated_definitions(monkeypatch, target=api) -> dict[str, list[dict]]:
    """Every (name, schema) Ninja writes into the components while building the document;
    it keeps only the last of two schemas of one name."""
    seen: dict[str, list[dict]] = {}
    original = OpenAPISchema.add_schema_definitions

    def record(self, definitions):
        for name, schema in definitions.items():
            if schema not in seen.setdefault(name, []):
                seen[name].append(schema)
        original(self, definitions)

    monkeypatch.setattr(OpenAPISchema, "add_schema_definitions", record)
    target.get_openapi_schema(path_prefix="/api/v1/")
    return seen


def test_no_two_schemas_share_a_name(monkeypatch):
    seen = _generated_definitions(monkeypatch)

    collisions = sorted(name for name, schemas in seen.items() if len(schemas) > 1)
    assert collisions == []
    assert {"DistributionRuleIn", "DistributionRuleOut", "DistributionRulePatch", "TagRuleIn",
            "TagRuleOut", "TagRulePatch"} <= set(seen)


def test_a_collision_is_found(monkeypatch):
    from ninja import NinjaAPI, Schema

    first = type("Twin", (Schema,), {"__annotations__": {"a": int}})
    second = type("Twin", (Schema,), {"__annotations__": {"b": str}})
    twins = NinjaAPI(urls_namespace="twins")
    twins.get("/twin-a", response=first)(lambda request: {"a": 1})
    twins.get("/twin-b", response=second)(lambda request: {"b": ""})

    seen = _generated_definitions(monkeypatch, twins)

    assert len(seen["Twin"]) == 2


def test_the_shared_error_schema_cannot_be_shadowed():
    from leadflow.api import document_errors

    schema = {"paths": {}, "components": {"schemas": {"Error": {"type": "string"}}}}

    with pytest.raises(ValueError, match="named Error"):
        document_errors(schema)


def _document() -> dict:
    return api.get_openapi_schema(path_prefix="/api/v1/")


@pytest.mark.parametrize("_case, method, path, codes", [
    ("rule_bodies", "post", "/api/v1/distribution-rules", {"400", "401", "403", "413", "429"}),
    ("malformed_id", "get", "/api/v1/leads/{lead_id}", {"400", "401", "404", "429"}),
    ("malformed_query", "get", "/api/v1/sources", {"400", "401", "429"}),
    ("intake", "post", "/api/v1/intake/{bucket_id}", {"400", "401", "403", "413", "429"}),
    ("over_the_server_limits", "get", "/api/v1/projects", {"414", "431"}),
])
def test_every_operation_declares_its_errors(_case, method, path, codes):
    responses = _document()["paths"][path][method]["responses"]

    assert codes <= set(responses)
    for code in codes:
        schema = responses[code]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}


def test_rate_limited_answers_document_retry_after():
    responses = _document()["paths"]["/api/v1/leads"]["get"]["responses"]

    assert responses["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}


def test_distribution_rules_document_their_own_bodies():
    document = _document()
    body = document["paths"]["/api/v1/distribution-rules"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]

    assert ref == "#/components/schemas/DistributionRuleIn"
    properties = document["components"]["schemas"]["DistributionRuleIn"]["properties"]
    assert {"pool", "method"} <= set(properties)


@pytest.mark.parametrize("path, types", [
    ("/api/v1/exports/{export_id}/download",
     {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}),
    ("/api/v1/imports/{import_id}/errors", {"text/csv"}),
])
def test_files_document_their_content_types(path, types):
    answer = _document()["paths"][path]["get"]["responses"]["200"]

    assert set(answer["content"]) == types
