"""Services (appointment types) and booking pages (links): create, edit, deactivate; branding with a
live preview; the copy-link field."""
from __future__ import annotations

import re

from dashboard_helpers import is_fragment, text
from sqlalchemy import select

from app.models import AppointmentType, BookingLink

TYPE = {"name": "Spin Class", "duration_minutes": "45", "price": "12.50", "currency": "GBP",
        "buffer_before_minutes": "5", "buffer_after_minutes": "10", "min_notice_minutes": "120",
        "booking_window_days": "30", "color": "#aa3300", "location": "Studio 2"}


def test_create_an_appointment_type(owner, gym, db):
    response = owner.post("/dashboard/types/new", TYPE)
    assert response.status_code == 303
    spin = db.session.scalar(select(AppointmentType).where(AppointmentType.name == "Spin Class"))
    assert (spin.duration_minutes, spin.price_pennies, spin.buffer_before_minutes, spin.booking_window_days,
            spin.color, spin.organization_id) == (45, 1250, 5, 30, "#aa3300", gym.org.id)
    assert "Spin Class added" in text(owner.get(response.headers["Location"]))


def test_type_validation_rerenders_the_form_with_422(owner, gym):
    response = owner.post("/dashboard/types/new", {**TYPE, "name": "", "duration_minutes": "2000"},
                          target="type-form")
    assert response.status_code == 422 and is_fragment(response)
    body = text(response)
    assert "Name the service." in body and "Number must be between 5 and 1440" in body
    assert 'aria-invalid="true"' in body


def test_edit_and_deactivate_a_type(owner, gym, db):
    form = {**TYPE, "name": "Personal Training 45", "duration_minutes": "45"}
    assert owner.post(f"/dashboard/types/{gym.pt.id}", form).status_code == 303
    db.session.expire_all()
    assert db.session.get(AppointmentType, gym.pt.id).duration_minutes == 45
    response = owner.post(f"/dashboard/types/{gym.pt.id}/active", {"active": "0"}, target="type-list")
    assert response.status_code == 200 and is_fragment(response)
    assert "Reactivate" in text(response)
    db.session.expire_all()
    assert db.session.get(AppointmentType, gym.pt.id).is_active is False


def test_staff_see_types_but_cannot_change_them(trainer, gym):
    page = text(trainer.get("/dashboard/types"))
    assert "Acme Personal Training" in page and "New service" not in page and "Deactivate" not in page


LINK = {"name": "Spin with Sam", "slug": "spin-with-sam", "type": "individual", "is_public": "y",
        "description": "Fast and fun."}


def test_create_a_booking_link_goes_on_to_its_branding(owner, gym, db):
    response = owner.post("/dashboard/links/new", {**LINK, "staff_ids": [str(gym.sam.id)],
                                                   "appointment_type_ids": [str(gym.pt.id)]})
    assert response.status_code == 303 and response.headers["Location"].endswith("/branding")
    link = db.session.scalar(select(BookingLink).where(BookingLink.slug == "spin-with-sam"))
    assert link.user_id == gym.sam.id and [m.id for m in link.staff] == [gym.sam.id]
    assert link.branding is not None


def test_link_validation(owner, gym, other):
    response = owner.post("/dashboard/links/new", {**LINK, "slug": "Not A Slug", "staff_ids": [str(gym.alex.id),
                                                   str(gym.sam.id)], "appointment_type_ids": []}, target="link-form")
    assert response.status_code == 422
    body = text(response)
    assert "lower-case letters" in body and "exactly one trainer" in body and "choose at least one" in body
    taken = owner.post("/dashboard/links/new", {**LINK, "slug": other.link.slug, "staff_ids": [str(gym.sam.id)],
                                                "appointment_type_ids": [str(gym.pt.id)]}, target="link-form")
    assert taken.status_code == 422 and "already used" in text(taken)
    foreign = owner.post("/dashboard/links/new", {**LINK, "staff_ids": [str(other.sam.id)],
                                                  "appointment_type_ids": [str(gym.pt.id)]}, target="link-form")
    assert foreign.status_code == 422 and "unknown member of staff" in text(foreign)


def test_deactivated_link_takes_its_public_page_offline(owner, gym, client):
    assert client.get(f"/book/{gym.link.slug}").status_code == 200
    response = owner.post(f"/dashboard/links/{gym.link.id}/active", {"active": "0"}, target="link-list")
    assert response.status_code == 200 and "Put back online" in text(response)
    assert client.get(f"/book/{gym.link.slug}").status_code == 404


def test_a_private_page_is_shown_as_private_not_live(owner, gym, client, db):
    """A page that is not public answers "not found" and takes no bookings: the list says Private,
    never "Live"."""
    gym.link.is_public = False
    db.session.commit()
    assert client.get(f"/book/{gym.link.slug}").status_code == 404
    row = re.search(r'<span class="badge[^"]*"[^>]*>([^<]+)</span>', text(owner.get("/dashboard/links")))
    assert row is not None and row.group(1) == "Private"


def test_links_page_has_a_readonly_address_and_a_copy_button(owner, gym):
    body = text(owner.get("/dashboard/links"))
    assert re.search(r'<input class="input copy-link__input"[^>]*readonly value="http://localhost/book/acme-pt">', body)
    assert 'data-copy="#link-url-' in body and "hidden>Copy link" in body  # shown by dashboard.js


def test_staff_see_only_the_links_they_are_on(trainer, gym, make_link, make_trainer, make_appointment_type):
    make_link([make_trainer(org=gym.org, name="Kim")], [gym.pt], slug="kim-only")
    body = text(trainer.get("/dashboard/links"))
    assert "acme-pt" in body and "kim-only" not in body and "Take offline" not in body


def test_branding_preview_shows_unsaved_values(owner, gym, db):
    url = f"/dashboard/links/{gym.link.id}/branding?primary_color=%23aa0000&accent_color=%2300aa00" \
          "&welcome_text=%3Cb%3EHi%3C%2Fb%3E&logo_url=javascript%3Aalert(1)"
    response = owner.get(url, target="branding-preview")
    assert response.status_code == 200 and is_fragment(response)
    body = text(response)
    assert "--brand:#aa0000" in body and "--accent:#00aa00" in body
    assert "&lt;b&gt;Hi&lt;/b&gt;" in body and "<b>Hi" not in body  # escaped
    assert "javascript:" not in body  # an unsafe logo is never shown
    db.session.expire_all()
    assert db.session.get(BookingLink, gym.link.id).branding.primary_color != "#aa0000"  # nothing saved


def test_branding_preview_ignores_bad_colours(owner, gym):
    body = text(owner.get(f"/dashboard/links/{gym.link.id}/branding?primary_color=red;x:y", target="branding-preview"))
    assert "red;x" not in body


def test_save_branding_shows_on_the_public_page(owner, gym, client):
    response = owner.post(f"/dashboard/links/{gym.link.id}/branding",
                          {"primary_color": "#7c3aed", "accent_color": "#f59e0b", "welcome_text": "Welcome to Acme",
                           "logo_url": ""})
    assert response.status_code == 303
    public = text(client.get(f"/book/{gym.link.slug}"))
    assert "--brand:#7c3aed" in public and "Welcome to Acme" in public


def test_branding_validation(owner, gym):
    response = owner.post(f"/dashboard/links/{gym.link.id}/branding",
                          {"primary_color": "#12345", "logo_url": "ftp://example.com/logo.png"}, target="branding-form")
    assert response.status_code == 422
    assert "https://" in text(response)
