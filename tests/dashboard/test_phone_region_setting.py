"""Settings → the country of customers' phone numbers (issue 15, defect 14): a select of countries, not
free text; the booking form starts with it and numbers without a country code are read in it."""
from __future__ import annotations

import re
from datetime import UTC, datetime

from dashboard_helpers import is_fragment, text

from app.models import Organization
from app.services.scheduling import app_cache, link_info

BASE = {"name": "Acme", "timezone": "Europe/London", "cancellation_cutoff_hours": "12", "reminder_offsets": "24h"}


def chosen(page: str) -> str:
    select = re.search(r'<select[^>]*name="phone_region"[^>]*>(.*?)</select>', page, re.DOTALL)
    assert select, "no phone_region select"
    return re.findall(r'<option selected value="([A-Z]{2})">', select.group(1))


def test_the_setting_is_a_select_of_countries_starting_at_gb(owner, gym):
    page = text(owner.get("/dashboard/settings"))
    assert '<label class="field__label" for="phone_region">Country of customers&#39; phone numbers</label>' in page
    assert chosen(page) == ["GB"]
    assert '<option value="US">United States (+1)</option>' in page
    assert '<input' not in re.search(r'<div class="field">\s*<label[^>]*for="phone_region".*?</div>', page, re.DOTALL).group(0)


def test_choosing_a_country_saves_it_and_booking_pages_follow(owner, gym, db, app):
    def page_region():  # what the booking form starts with and create_booking reads numbers in (cached)
        return link_info(gym.link.slug, now=datetime.now(UTC), cache=app_cache()).phone_region

    assert page_region() == "GB"
    response = owner.post("/dashboard/settings", {**BASE, "phone_region": "US"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Organization, gym.org.id).settings["phone_region"] == "US"
    assert chosen(text(owner.get("/dashboard/settings"))) == ["US"]
    assert page_region() == "US"  # the cached page was not kept: the settings raised the schedule version


def test_a_post_without_it_keeps_the_country(owner, gym, db):
    assert owner.post("/dashboard/settings", {**BASE, "phone_region": "IE"}).status_code == 303
    assert owner.post("/dashboard/settings", BASE).status_code == 303
    db.session.expire_all()
    assert db.session.get(Organization, gym.org.id).settings["phone_region"] == "IE"


def test_a_value_that_is_not_a_country_is_refused(owner, gym, db):
    for value in ("ZZ", "United Kingdom", "<script>", "x" * 500):
        response = owner.post("/dashboard/settings", {**BASE, "phone_region": value}, target="settings-form")
        assert response.status_code == 422 and is_fragment(response)
        assert "choose a country from the list" in text(response)
    db.session.expire_all()
    assert "phone_region" not in (db.session.get(Organization, gym.org.id).settings or {})
