"""Hostile input on the public booking pages: the pages ignore what they cannot use (a month or day
at the edge of the calendar, a slot from nowhere) and refuse what no field accepts (NUL) with a 400."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("query", ["month=9999-12", "month=0001-01", "day=9999-12-31", "day=0001-01-01",
                                   "slot=9999-12-31T23:59:59%2B00:00", "slot=0001-01-01T00:00:00-05:00",
                                   "month=2030-13", "tz=Factory", "tz=localtime"])
def test_edge_values_in_the_booking_page_query_are_ignored(client, link, query):
    response = client.get(f"/book/{link.slug}?{query}")
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/book/a%00b", "/booking/manage/a%00b", "/m/a%00b", "/book/{slug}?tz=Europe%00London"])
def test_a_nul_character_in_a_public_url_is_a_400_page(client, link, path):
    response = client.get(path.format(slug=link.slug))
    assert response.status_code == 400
    assert "<html" in response.get_data(as_text=True)
