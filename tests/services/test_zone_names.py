"""The zones offered (one canonical name per place, with its country) and the suggestion for a name
that is no zone (app/services/zones.py)."""
from __future__ import annotations

import pytest

from app.services.errors import InvalidRequest
from app.services.zones import canonical_zones, known_zones, require_zone, suggest_zone, zone_groups


def test_the_offered_zones_are_canonical_places_each_with_its_country():
    offered = {z.name: z for z in canonical_zones()}
    assert {"UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Europe/Amsterdam"} <= offered.keys()
    assert not {"GB", "US/Eastern", "Europe/Belfast", "Asia/Calcutta", "Etc/GMT+5", "localtime", "Factory"} & offered.keys()
    assert set(offered) <= known_zones()
    assert offered["Europe/London"].label == "London, United Kingdom"
    assert offered["America/New_York"].label == "New York, United States"


def test_the_groups_are_by_area_sorted_by_place():
    groups = dict(zone_groups())
    assert list(groups)[:2] == ["UTC", "Africa"]
    places = [z.place for z in groups["Europe"]]
    assert places == sorted(places, key=str.casefold) and "London" in places


def test_a_zone_saved_under_an_alias_keeps_a_group_of_its_own():
    area, [kept] = zone_groups("US/Eastern")[0]
    assert (area, kept.name) == ("Current", "US/Eastern")
    assert zone_groups("Not/AZone")[0][0] == "UTC"  # only accepted names are kept


@pytest.mark.parametrize("typed, meant", [
    ("London", "Europe/London"), ("london", "Europe/London"), ("  new   york ", "America/New_York"),
    ("New_York", "America/New_York"), ("europe/london", "Europe/London"), ("Londn", "Europe/London"),
    ("Japan", "Asia/Tokyo"), ("united kingdom", "Europe/London"), ("Europe/Londn", "Europe/London"),
    ("us/eastern", "US/Eastern"),
])
def test_a_place_a_country_or_a_misspelling_gets_a_suggestion(typed, meant):
    assert suggest_zone(typed) == meant


@pytest.mark.parametrize("typed", [None, "", "   ", "Mars/Olympus", "zzzz", "x" * 500, "Lon\x00don", "\r\n"])
def test_nothing_close_gets_no_suggestion(typed):
    assert suggest_zone(typed) is None


def test_the_error_for_a_place_says_which_zone_was_meant():
    with pytest.raises(InvalidRequest) as refused:
        require_zone("London")
    assert refused.value.message == "Unknown time zone 'London'. Did you mean Europe/London?"
    assert refused.value.fields == {"timezone": "unknown time zone: did you mean Europe/London?"}
    assert refused.value.details == {"suggestion": "Europe/London"}
    with pytest.raises(InvalidRequest, match="use an IANA name such as Europe/London"):
        require_zone("Mars/Olympus")
