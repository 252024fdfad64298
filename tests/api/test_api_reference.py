"""The published contract: /api/openapi.json is an OpenAPI 3.1 document of every JSON endpoint, and
/api/docs a reference page for people, served from our own static files (no CDN)."""
from __future__ import annotations

import re

from app.api.openapi import OPERATIONS


def test_the_document_is_openapi_3_1_and_covers_every_operation(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    operations = {(method, path) for path, item in document["paths"].items() for method in item}
    assert len(operations) == len(OPERATIONS) == 21
    for method, path in [("post", "/api/booking/create"), ("put", "/api/booking/manage"), ("post", "/api/ai/booking"),
                         ("get", "/api/classes"), ("post", "/api/classes/book"),
                         ("post", "/api/notifications/process"), ("post", "/api/calendar/webhooks/google"),
                         ("post", "/api/twilio/status"), ("get", "/api/notifications/unsubscribe/{token}")]:
        assert (method, path) in operations
    every_ref = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', response.get_data(as_text=True))
    assert every_ref and set(every_ref) <= set(document["components"]["schemas"])


def test_the_request_schemas_are_the_validating_models(client):
    """Generated from the pydantic models the views validate with: the same limits and required fields."""
    from app.api.booking import CreateBookingBody

    document = client.get("/api/openapi.json").get_json()
    create = document["paths"]["/api/booking/create"]["post"]["requestBody"]["content"]["application/json"]
    schema = document["components"]["schemas"][create["schema"]["$ref"].rsplit("/", 1)[-1]]
    model = CreateBookingBody.model_json_schema()
    assert schema["required"] == model["required"]
    assert schema["properties"]["attendee_name"]["maxLength"] == 200
    ai = document["paths"]["/api/ai/booking"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {variant["properties"]["action"]["const"] for variant in ai["oneOf"]} == {
        "find_availability", "book_slot", "reschedule_booking", "cancel_booking", "get_booking", "get_bookings",
        "list_services", "find_classes", "book_class"}


def test_every_error_is_documented_in_the_one_error_shape(client):
    """(The unsubscribe link is a page for a person, not JSON: its 404 is a page.)"""
    document = client.get("/api/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if status.startswith("4") and "$ref" not in answer and "text/html" not in answer.get("content", {}):
                    content = answer.get("content", {}).get("application/json")
                    assert content and content["schema"]["$ref"].endswith("/ErrorResponse"), (method, path, status)


def test_the_reference_page_uses_only_our_own_files(client):
    response = client.get("/api/docs")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js" in page and "/api/openapi.json" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from another origin
    assert "<noscript>" in page and "/api/ai/tools" in page  # without JavaScript: where the contract is
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page):
        served = client.get(asset)
        assert served.status_code == 200, asset
        served.close()
