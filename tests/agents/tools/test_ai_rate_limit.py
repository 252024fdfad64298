"""POST /api/ai/booking is rate limited per API key (not per address: many agents share one)."""
from __future__ import annotations

import pytest
from ai_helpers import MONDAY, error_of


@pytest.fixture
def app_config(app_config):
    return dict(app_config, RATELIMIT_ENABLED=True, RATELIMIT_AI="2/minute")


def test_each_key_has_its_own_limit(ai, gym, make_key):
    assert [ai("find_availability", date=MONDAY).status_code for _ in range(2)] == [200, 200]
    limited = ai("find_availability", date=MONDAY)
    assert limited.status_code == 429 and error_of(limited)["code"] == "rate_limited"
    assert limited.headers["Retry-After"]
    _, other = make_key(gym.org)
    assert ai("find_availability", token=other, date=MONDAY).status_code == 200
