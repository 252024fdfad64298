"""The API reference (/api/docs) in Chromium: Swagger UI, from our own static files, draws every
operation of /api/openapi.json under the portal's Content-Security-Policy, with no violation and no
request to another origin. Screenshot: tests/output/screenshots/api-reference.png."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser


def test_the_reference_page_draws_every_operation(chromium, server, screenshot):
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    violations, errors, requests = [], [], []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "(window.__violations = window.__violations || []).push(e.violatedDirective + ' ' + e.blockedURI))")
    page.goto(f"{server}/api/docs")
    page.wait_for_selector(".opblock", timeout=15_000)
    operations = page.locator(".opblock").count()
    violations = page.evaluate("window.__violations || []")
    assert operations == 21
    assert page.locator(".opblock-summary-path", has_text="/api/booking/create").count() == 1
    page.locator(".opblock-summary", has_text="/api/booking/create").first.click()
    page.wait_for_selector(".opblock.is-open .responses-wrapper")
    assert "201" in page.locator(".opblock.is-open .responses-wrapper").inner_text()
    screenshot(page, "api-reference")
    assert violations == [] and errors == []
    origin = urlsplit(server).netloc
    assert {urlsplit(url).netloc for url in requests if not url.startswith("data:")} == {origin}
