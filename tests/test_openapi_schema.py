"""The OpenAPI schema generates without a warning, validates, and documents every operation's
error answers (tests/test_openapi_fuzz.py checks the API keeps to it)."""

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture(scope="module")
def operations(schema):
    return [
        (path, method.upper(), operation)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def test_schema_generates_without_warnings_and_validates(tmp_path, capsys):
    GENERATOR_STATS.reset()

    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )

    assert capsys.readouterr().err == ""


def test_every_operation_documents_the_missing_api_key_answer(operations):
    undocumented = [
        f"{method} {path}"
        for path, method, operation in operations
        if "401" not in operation["responses"]
    ]

    assert undocumented == []


def test_every_operation_reading_a_body_documents_invalid_input(operations):
    undocumented = [
        f"{method} {path}"
        for path, method, operation in operations
        if "requestBody" in operation and not {"400", "415"} <= set(operation["responses"])
    ]

    assert undocumented == []


def test_validation_errors_are_documented_with_their_path_and_message(schema):
    schemas = schema["components"]["schemas"]

    error = schemas["ValidationError"]
    item = schemas["ErrorItem"]

    assert set(error["required"]) == {"detail", "errors"}
    assert error["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/ErrorItem"}
    assert set(item["required"]) == {"path", "message"}


def test_every_operation_with_a_path_parameter_documents_not_found(operations):
    undocumented = [
        f"{method} {path}"
        for path, method, operation in operations
        if "{" in path and "404" not in operation["responses"]
    ]

    assert undocumented == []


def test_contacts_upsert_documents_created_and_updated(operations):
    [upsert] = [op for path, method, op in operations if op["operationId"] == "contacts_upsert"]

    assert {"200", "201"} <= set(upsert["responses"])


@pytest.mark.parametrize("operation_id", ["events_create", "events_batch"])
def test_event_ingestion_documents_accepted(operations, operation_id):
    [operation] = [op for _, _, op in operations if op["operationId"] == operation_id]

    assert "202" in operation["responses"]
    assert not {"200", "201"} & set(operation["responses"])


def test_deletes_document_no_content(operations):
    deletes = [op for _, method, op in operations if method == "DELETE"]

    assert deletes
    assert all("204" in op["responses"] for op in deletes)


def test_list_operations_document_the_page_format(schema, operations):
    lists = [op for _, _, op in operations if op["operationId"].endswith("_list")]
    schemas = schema["components"]["schemas"]

    for operation in lists:
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page = schemas[ref.rsplit("/", 1)[1]]
        assert {"count", "next", "previous", "results"} <= set(page["properties"])


def test_strict_request_bodies_reject_unknown_keys_in_the_schema(schema):
    schemas = schema["components"]["schemas"]

    for name in ["ContactInputRequest", "CustomFieldInputRequest", "EventInputRequest"]:
        assert schemas[name]["additionalProperties"] is False, name


def test_optional_query_parameters_document_that_empty_means_not_given(operations):
    parameters = [
        parameter
        for _, _, operation in operations
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query" and not parameter.get("required")
    ]

    assert parameters
    assert all(parameter.get("allowEmptyValue") for parameter in parameters)


def test_unsafe_operations_document_the_csrf_refusal_of_session_callers(operations):
    undocumented = [
        f"{method} {path}"
        for path, method, operation in operations
        if method in {"POST", "PUT", "PATCH", "DELETE"} and "403" not in operation["responses"]
    ]

    assert undocumented == []


def test_components_describe_the_api_not_our_base_classes(schema):
    descriptions = [
        component.get("description", "") for component in schema["components"]["schemas"].values()
    ]

    assert not [text for text in descriptions if "ignored_keys" in text]
