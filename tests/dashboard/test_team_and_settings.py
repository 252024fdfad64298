"""The team (owners add staff, set roles, deactivate) and the organization's settings."""
from __future__ import annotations

from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path

from dashboard_helpers import MONDAY, at, is_fragment, text
from sqlalchemy import select

from app.models import Organization, User


def outbox(app) -> list:
    folder = Path(app.config["OUTBOX_DIR"])
    return [message_from_bytes(p.read_bytes(), policy=email_policy) for p in sorted(folder.glob("*.eml"))]


def test_owner_adds_staff_who_get_an_invitation(owner, gym, app, db, browser):
    response = owner.post("/dashboard/team", {"name": "Kim Coach", "email": "kim@acme.example", "role": "staff"})
    assert response.status_code == 303
    kim = db.session.scalar(select(User).where(User.email == "kim@acme.example"))
    assert kim.organization_id == gym.org.id and kim.role == "staff" and kim.password_hash is None
    [invite] = outbox(app)
    assert invite["To"] == "kim@acme.example"
    link = next(line for line in invite.get_content().splitlines() if "/auth/reset/" in line).strip()
    # Kim chooses a password through the link, then signs in.
    path = link.replace("http://localhost", "")
    page = browser().client
    form = page.get(path)
    assert form.status_code == 200
    import re
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text(form)).group(1)
    done = page.post(path, data={"csrf_token": token, "password": "a long new password", "confirm": "a long new password"})
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, kim.id).check_password("a long new password")


def test_adding_staff_validates(owner, gym, other):
    response = owner.post("/dashboard/team", {"name": "", "email": other.alex.email, "role": "boss"},
                          target="team-add")
    assert response.status_code == 422 and is_fragment(response)
    body = text(response)
    assert "Enter their name" in body and "Not a valid choice" in body


def test_email_already_in_use_anywhere(owner, gym, other):
    response = owner.post("/dashboard/team", {"name": "Copy", "email": other.alex.email.upper(), "role": "staff"},
                          target="team-add")
    assert response.status_code == 422 and "already has an account" in text(response)


def test_admins_look_but_only_owners_change_the_team(browser, gym):
    admin = browser(gym.admin)
    page = text(admin.get("/dashboard/team"))
    assert "Sam of Acme" in page and "Add and invite" not in page
    assert admin.post(f"/dashboard/team/{gym.sam.id}/role", {f"m-{gym.sam.id}-role": "admin"}).status_code == 403


def test_set_role(owner, gym, db):
    response = owner.post(f"/dashboard/team/{gym.sam.id}/role", {f"m-{gym.sam.id}-role": "admin"}, target="team-list")
    assert response.status_code == 200 and "Sam of Acme is now an admin" in text(response)
    db.session.expire_all()
    assert db.session.get(User, gym.sam.id).role == "admin"


def test_the_last_owner_stays(owner, gym, browser, db):
    gym.admin.role = "owner"
    db.session.commit()
    other_owner = browser(gym.admin)
    # Two owners: one may demote the other; then the one left cannot be demoted or deactivated.
    assert other_owner.post(f"/dashboard/team/{gym.owner.id}/role", {f"m-{gym.owner.id}-role": "admin"}).status_code == 303
    db.session.expire_all()
    gym.owner = db.session.get(User, gym.owner.id)
    assert gym.owner.role == "admin"
    self_change = other_owner.post(f"/dashboard/team/{gym.admin.id}/active", {"active": "0"}, target="team-list")
    assert self_change.status_code == 409 and "deactivate yourself" in text(self_change)


def test_deactivated_trainer_gets_no_new_slots_and_bookings_are_listed(owner, gym, db, client):
    url = f"/api/booking/availability?link={gym.link.slug}&date=2030-01-07"
    staff_before = {s["staff_id"] for s in client.get(url).get_json()["slots"]}
    assert str(gym.alex.id) in staff_before
    response = owner.post(f"/dashboard/team/{gym.alex.id}/active", {"active": "0"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/dashboard/team/{gym.alex.id}")
    page = text(owner.get(response.headers["Location"]))
    assert "1 upcoming booking to reassign" in page and "Ann of Acme" in page and "Reassign" in page
    staff_after = {s["staff_id"] for s in client.get(url).get_json()["slots"]}
    assert staff_after == {str(gym.sam.id)}
    # Existing bookings stay, and can be moved to Sam.
    move = owner.post(f"/dashboard/bookings/{gym.booking.id}/reschedule",
                      {"start": at(MONDAY, 14).isoformat(), "staff_id": str(gym.sam.id), "confirm": "yes"})
    assert move.status_code == 303
    assert "No upcoming bookings" in text(owner.get(f"/dashboard/team/{gym.alex.id}"))


def test_deactivated_staff_cannot_sign_in(owner, gym, browser):
    owner.post(f"/dashboard/team/{gym.alex.id}/active", {"active": "0"})
    alex = browser()
    import re
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', text(alex.client.get("/auth/login"))).group(1)
    response = alex.client.post("/auth/login", data={"csrf_token": token, "email": gym.alex.email,
                                                     "password": "correct horse battery"})
    assert response.status_code == 422 and "deactivated" in text(response)


def test_settings_are_saved(owner, gym, db):
    response = owner.post("/dashboard/settings", {"name": "Acme Gym & Spa", "timezone": "America/New_York",
                                                  "cancellation_cutoff_hours": "2.5", "reminder_offsets": "1d, 90m, 2h"})
    assert response.status_code == 303
    db.session.expire_all()
    org = db.session.get(Organization, gym.org.id)
    assert (org.name, org.timezone, org.cancellation_cutoff_minutes, org.reminder_offsets_minutes) == (
        "Acme Gym & Spa", "America/New_York", 150, [1440, 120, 90])
    page = text(owner.get("/dashboard/settings"))
    assert 'value="1d, 2h, 90m"' in page and "Acme Gym &amp; Spa" in page


def test_settings_validation(owner, gym, db):
    response = owner.post("/dashboard/settings", {"name": "Acme", "timezone": "Mars/Olympus",
                                                  "cancellation_cutoff_hours": "-1", "reminder_offsets": "soon"},
                          target="settings-form")
    assert response.status_code == 422 and is_fragment(response)
    body = text(response)
    assert "Number must be between 0 and 336" in body
    bad_zone = owner.post("/dashboard/settings", {"name": "Acme", "timezone": "Mars/Olympus",
                                                  "cancellation_cutoff_hours": "1", "reminder_offsets": "2h"},
                          target="settings-form")
    assert bad_zone.status_code == 422 and "unknown time zone" in text(bad_zone)
    bad_reminder = owner.post("/dashboard/settings", {"name": "Acme", "timezone": "Europe/London",
                                                      "cancellation_cutoff_hours": "1", "reminder_offsets": "soon"},
                              target="settings-form")
    assert bad_reminder.status_code == 422 and "is not a duration" in text(bad_reminder)
    db.session.expire_all()
    assert db.session.get(Organization, gym.org.id).timezone == "Europe/London"


def test_the_websites_that_may_embed_the_booking_pages(owner, gym, db, client):
    """Settings → the gym's own websites may frame its booking pages (and nothing else may)."""
    base = {"name": "Acme", "timezone": "Europe/London", "cancellation_cutoff_hours": "12", "reminder_offsets": "24h"}
    refused = owner.post("/dashboard/settings", {**base, "frame_origins": "http://www.acme.example"})
    assert refused.status_code == 422 and "is not a website address" in text(refused)
    saved = owner.post("/dashboard/settings", {**base, "frame_origins": "https://www.acme.example/\n"})
    assert saved.status_code == 303
    db.session.expire_all()
    assert db.session.get(Organization, gym.org.id).settings["frame_origins"] == ["https://www.acme.example"]
    assert "https://www.acme.example" in text(owner.get("/dashboard/settings"))
    page = client.get(f"/book/{gym.link.slug}")
    assert "frame-ancestors 'self' https://www.acme.example" in page.headers["Content-Security-Policy"]
