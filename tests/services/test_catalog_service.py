"""The catalog service called directly: appointment types, booking links, their branding and slug
suggestions.

Each writing function validates (naming the fields at fault), writes and commits, raises the
organization's schedule version, and answers NotFound for another organization's rows.
"""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from app.models import AppointmentType, BookingLink, LinkBranding, Organization
from app.services.catalog import (
    AppointmentTypeInput,
    BookingLinkInput,
    BrandingInput,
    appointment_types,
    booking_links,
    create_appointment_type,
    create_booking_link,
    get_appointment_type,
    get_booking_link,
    set_appointment_type_active,
    set_booking_link_active,
    slug_suggestion,
    update_appointment_type,
    update_booking_link,
    update_branding,
    validate_branding,
)
from app.services.errors import InvalidRequest, NotFound

SLUG_SHAPE = r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?\Z"


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    """The user factory hashes with scrypt (deliberately slow); these tests never sign in."""
    from werkzeug.security import generate_password_hash

    import app.models.staff as staff

    monkeypatch.setattr(staff, "generate_password_hash",
                        lambda password, method=None: generate_password_hash(password, method="pbkdf2:sha256:1000"))


@pytest.fixture
def gym(make_org, make_user, make_appointment_type, make_link):
    """Acme (Alex, Sam, Kim; PT and Yoga; Alex's link) and Rival, whose rows Acme never sees."""
    org = make_org(slug="acme", name="Acme")
    alex, sam, kim = (make_user(org=org, name=name) for name in ("Alex", "Sam", "Kim"))
    pt = make_appointment_type(org=org, name="PT")
    yoga = make_appointment_type(org=org, name="Yoga")
    link = make_link([alex], [pt], slug="acme-pt", name="Acme PT")
    rival = make_org(slug="rival", name="Rival")
    rival_ann = make_user(org=rival, name="Ann")
    rival_pt = make_appointment_type(org=rival, name="Rival PT")
    rival_link = make_link([rival_ann], [rival_pt], slug="rival-pt")
    return type("Gym", (), dict(org=org, alex=alex, sam=sam, kim=kim, pt=pt, yoga=yoga, link=link, rival=rival,
                                rival_ann=rival_ann, rival_pt=rival_pt, rival_link=rival_link))


def version(db, org) -> int:
    """The schedule version as stored now (the raise is an UPDATE the ORM object does not see)."""
    return db.session.scalar(select(Organization.schedule_version).where(Organization.id == org.id))


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def spin(**changes) -> AppointmentTypeInput:
    values = dict(name="Spin Class", duration_minutes=45, description="Fast.", buffer_before_minutes=5,
                  buffer_after_minutes=10, price_pennies=1250, currency="GBP", min_notice_minutes=120,
                  booking_window_days=30, slot_interval_minutes=15, max_per_day=4, location="Studio 2",
                  color="#aa3300")
    values.update(changes)
    return AppointmentTypeInput(**values)


def link_input(gym, **changes) -> BookingLinkInput:
    values = dict(name="Spin with Sam", slug="spin-with-sam", type="individual", description="Fast and fun.",
                  is_public=True, staff_ids=(gym.sam.id,), appointment_type_ids=(gym.pt.id,))
    values.update(changes)
    return BookingLinkInput(**values)


def refused(call) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as caught:
        call()
    return caught.value.fields


# --- appointment types -----------------------------------------------------------------------------

def test_create_appointment_type_stores_every_field(db, gym):
    before = version(db, gym.org)
    atype = create_appointment_type(gym.org.id, spin(name="  Spin \n Class ", color="#AA3300",
                                                     description="  Fast.  ", location=" Studio 2 "))
    db.session.expire_all()
    row = db.session.get(AppointmentType, atype.id)
    assert (row.organization_id, row.is_active, row.name, row.description, row.location, row.color) == (
        gym.org.id, True, "Spin Class", "Fast.", "Studio 2", "#aa3300")
    assert (row.duration_minutes, row.buffer_before_minutes, row.buffer_after_minutes, row.price_pennies,
            row.currency, row.min_notice_minutes, row.booking_window_days, row.slot_interval_minutes,
            row.max_per_day) == (45, 5, 10, 1250, "GBP", 120, 30, 15, 4)
    assert version(db, gym.org) > before


def test_optional_fields_left_empty_take_their_defaults(gym):
    atype = create_appointment_type(gym.org.id, AppointmentTypeInput(
        name="Plain", duration_minutes=30, buffer_before_minutes=None, buffer_after_minutes=None,
        price_pennies=None, min_notice_minutes=None, description="   ", location="", color=""))
    assert (atype.buffer_before_minutes, atype.buffer_after_minutes, atype.price_pennies,
            atype.min_notice_minutes) == (0, 0, 0, 0)
    assert (atype.booking_window_days, atype.slot_interval_minutes, atype.max_per_day) == (None, None, None)
    assert (atype.description, atype.location, atype.color) == (None, None, None)


def test_long_description_and_location_are_cut_to_their_limits(gym):
    atype = create_appointment_type(gym.org.id, spin(description="d" * 2500, location="l" * 400))
    assert atype.description == "d" * 2000 and atype.location == "l" * 300


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "", "required"),
    ("name", "  \t ", "required"),
    ("name", "n" * 201, "at most 200 characters"),
    ("duration_minutes", None, "required"),
    ("duration_minutes", 4, "between 5 and 1440"),
    ("duration_minutes", 1441, "between 5 and 1440"),
    ("buffer_before_minutes", -1, "between 0 and 720"),
    ("buffer_before_minutes", 721, "between 0 and 720"),
    ("buffer_after_minutes", -5, "between 0 and 720"),
    ("buffer_after_minutes", 721, "between 0 and 720"),
    ("price_pennies", -1, "between 0 and 10000000"),
    ("price_pennies", 10_000_001, "between 0 and 10000000"),
    ("min_notice_minutes", -1, "between 0 and 129600"),
    ("min_notice_minutes", 129_601, "between 0 and 129600"),
    ("booking_window_days", 0, "between 1 and 730"),
    ("booking_window_days", 731, "between 1 and 730"),
    ("slot_interval_minutes", 4, "between 5 and 1440"),
    ("slot_interval_minutes", 1441, "between 5 and 1440"),
    ("max_per_day", 0, "between 1 and 100"),
    ("max_per_day", 101, "between 1 and 100"),
    ("currency", "gbp", "one of GBP, EUR, USD"),
    ("currency", "JPY", "one of GBP, EUR, USD"),
    ("color", "red", "a colour like #1f4fd1"),
    ("color", "#12345", "a colour like #1f4fd1"),
    ("color", "#1234567", "a colour like #1f4fd1"),
    ("color", "#ggg000", "a colour like #1f4fd1"),
])
def test_appointment_type_limits_name_the_field(db, gym, field, value, message):
    before = (count(db, AppointmentType), version(db, gym.org))
    fields = refused(lambda: create_appointment_type(gym.org.id, spin(**{field: value})))
    assert fields == {field: message}
    assert (count(db, AppointmentType), version(db, gym.org)) == before


@pytest.mark.parametrize(("field", "value"), [
    ("name", "n" * 200), ("name", " ".join(["n" * 100, "n" * 99])),
    ("duration_minutes", 5), ("duration_minutes", 1440),
    ("buffer_before_minutes", 0), ("buffer_before_minutes", 720), ("buffer_after_minutes", 720),
    ("price_pennies", 0), ("price_pennies", 10_000_000),
    ("min_notice_minutes", 0), ("min_notice_minutes", 129_600),
    ("booking_window_days", 1), ("booking_window_days", 730),
    ("slot_interval_minutes", 5), ("slot_interval_minutes", 1440),
    ("max_per_day", 1), ("max_per_day", 100),
    ("currency", "EUR"), ("currency", "USD"),
])
def test_appointment_type_limits_are_inclusive(db, gym, field, value):
    atype = create_appointment_type(gym.org.id, spin(**{field: value}))
    db.session.expire_all()
    assert getattr(db.session.get(AppointmentType, atype.id), field) == value


def test_every_field_at_fault_is_named_at_once(gym):
    fields = refused(lambda: create_appointment_type(gym.org.id, spin(name="", duration_minutes=2000, currency="X",
                                                                      color="blue")))
    assert set(fields) == {"name", "duration_minutes", "currency", "color"}


def test_a_type_colour_with_a_trailing_newline_is_refused(db, gym):
    before = count(db, AppointmentType)
    fields = refused(lambda: create_appointment_type(gym.org.id, spin(color="#ff0000\n")))
    assert fields == {"color": "a colour like #1f4fd1"}
    assert count(db, AppointmentType) == before


def test_update_appointment_type_changes_it(db, gym):
    before = version(db, gym.org)
    updated = update_appointment_type(gym.org.id, str(gym.pt.id), spin(name="PT 45", duration_minutes=45))
    assert updated.id == gym.pt.id
    db.session.expire_all()
    row = db.session.get(AppointmentType, gym.pt.id)
    assert (row.name, row.duration_minutes, row.buffer_after_minutes, row.organization_id) == (
        "PT 45", 45, 10, gym.org.id)
    assert version(db, gym.org) > before


def test_a_refused_update_changes_nothing(db, gym):
    before = version(db, gym.org)
    fields = refused(lambda: update_appointment_type(gym.org.id, gym.pt.id, spin(duration_minutes=0)))
    assert fields == {"duration_minutes": "between 5 and 1440"}
    db.session.expire_all()
    row = db.session.get(AppointmentType, gym.pt.id)
    assert (row.name, row.duration_minutes) == ("PT", 60)
    assert version(db, gym.org) == before


def test_deactivate_and_reactivate_a_type(db, gym):
    before = version(db, gym.org)
    assert set_appointment_type_active(gym.org.id, gym.pt.id, False).is_active is False
    after_off = version(db, gym.org)
    assert after_off > before
    assert [t.name for t in appointment_types(gym.org.id, active_only=True)] == ["Yoga"]
    assert [t.name for t in appointment_types(gym.org.id)] == ["Yoga", "PT"]  # active first, then by name
    assert set_appointment_type_active(gym.org.id, gym.pt.id, True).is_active is True
    assert version(db, gym.org) > after_off
    assert [t.name for t in appointment_types(gym.org.id, active_only=True)] == ["PT", "Yoga"]


def test_appointment_types_are_the_organizations_own(gym):
    assert {t.id for t in appointment_types(gym.org.id)} == {gym.pt.id, gym.yoga.id}
    assert get_appointment_type(gym.org.id, str(gym.pt.id)).id == gym.pt.id


# --- booking links ---------------------------------------------------------------------------------

def test_create_individual_link_with_default_branding(db, gym):
    before = version(db, gym.org)
    link = create_booking_link(gym.org.id, link_input(gym, name="  Spin  with Sam ", slug="  Spin-With-Sam ",
                                                      appointment_type_ids=(str(gym.yoga.id), gym.pt.id)))
    db.session.expire_all()
    row = db.session.get(BookingLink, link.id)
    assert (row.organization_id, row.name, row.slug, row.type, row.description, row.is_public, row.is_active) == (
        gym.org.id, "Spin with Sam", "spin-with-sam", "individual", "Fast and fun.", True, True)
    assert row.user_id == gym.sam.id  # the one trainer owns an individual link
    assert [m.id for m in row.staff] == [gym.sam.id]
    assert [t.name for t in row.appointment_types] == ["PT", "Yoga"]
    assert row.branding is not None and row.branding.organization_id == gym.org.id
    assert (row.branding.primary_color, row.branding.accent_color) == ("#1f4fd1", "#ff7a1a")
    assert version(db, gym.org) > before


def test_team_links_have_no_owner(db, gym):
    for kind, slug in (("round_robin", "team"), ("collective", "duo")):
        link = create_booking_link(gym.org.id, link_input(gym, type=kind, slug=slug,
                                                          staff_ids=(gym.sam.id, gym.alex.id)))
        assert link.user_id is None and link.type == kind
        assert [m.name for m in link.staff] == ["Alex", "Sam"]
    single = create_booking_link(gym.org.id, link_input(gym, type="round_robin", slug="solo-team",
                                                        staff_ids=(gym.kim.id,)))
    assert [m.id for m in single.staff] == [gym.kim.id]  # a round robin of one is allowed


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"name": ""}, "name", "required"),
    ({"name": "n" * 201}, "name", "at most 200 characters"),
    ({"slug": ""}, "slug", "lower-case letters, digits and hyphens (e.g. personal-training)"),
    ({"slug": "Not A Slug"}, "slug", "lower-case letters, digits and hyphens (e.g. personal-training)"),
    ({"slug": "-spin"}, "slug", "lower-case letters, digits and hyphens (e.g. personal-training)"),
    ({"slug": "spin-"}, "slug", "lower-case letters, digits and hyphens (e.g. personal-training)"),
    ({"slug": "spin_class"}, "slug", "lower-case letters, digits and hyphens (e.g. personal-training)"),
    ({"slug": "s" * 81}, "slug", "lower-case letters, digits and hyphens (e.g. personal-training)"),
    ({"slug": "spin/../admin"}, "slug", "lower-case letters, digits and hyphens (e.g. personal-training)"),
    ({"slug": "acme-pt"}, "slug", "already used by another booking page"),
    ({"slug": "rival-pt"}, "slug", "already used by another booking page"),  # slugs are global
    ({"type": "team"}, "type", "choose a kind of link"),
    ({"staff_ids": ()}, "staff_ids", "choose at least one"),
    ({"staff_ids": ("not-a-uuid",)}, "staff_ids", "unknown member of staff"),
    ({"staff_ids": (uuid.uuid4(),)}, "staff_ids", "unknown member of staff"),
    ({"type": "individual", "staff_ids": "two"}, "staff_ids", "an individual link has exactly one trainer"),
    ({"type": "collective", "staff_ids": "one"}, "staff_ids", "a collective link needs at least two people"),
    ({"type": "round_robin", "staff_ids": ()}, "staff_ids", "choose at least one"),
    ({"appointment_type_ids": ()}, "appointment_type_ids", "choose at least one"),
    ({"appointment_type_ids": ("nope",)}, "appointment_type_ids", "unknown appointment type"),
    ({"appointment_type_ids": (uuid.uuid4(),)}, "appointment_type_ids", "unknown appointment type"),
])
def test_link_validation_names_the_field(db, gym, changes, field, message):
    if changes.get("staff_ids") == "two":
        changes["staff_ids"] = (gym.sam.id, gym.alex.id)
    elif changes.get("staff_ids") == "one":
        changes["staff_ids"] = (gym.sam.id,)
    before = (count(db, BookingLink), count(db, LinkBranding), version(db, gym.org))
    fields = refused(lambda: create_booking_link(gym.org.id, link_input(gym, **changes)))
    assert fields == {field: message}
    assert (count(db, BookingLink), count(db, LinkBranding), version(db, gym.org)) == before


def test_slug_limits_are_inclusive(gym):
    assert create_booking_link(gym.org.id, link_input(gym, slug="s" * 80)).slug == "s" * 80
    assert create_booking_link(gym.org.id, link_input(gym, slug="7")).slug == "7"
    assert create_booking_link(gym.org.id, link_input(gym, slug="a--b")).slug == "a--b"


def test_staff_and_types_must_all_belong_to_the_organization(db, gym):
    before = count(db, BookingLink)
    fields = refused(lambda: create_booking_link(gym.org.id, link_input(
        gym, type="round_robin", staff_ids=(gym.sam.id, gym.rival_ann.id),
        appointment_type_ids=(gym.pt.id, gym.rival_pt.id))))
    assert fields == {"staff_ids": "unknown member of staff", "appointment_type_ids": "unknown appointment type"}
    assert count(db, BookingLink) == before


def test_update_link_rewrites_it(db, gym):
    before = version(db, gym.org)
    link = update_booking_link(gym.org.id, str(gym.link.id), link_input(
        gym, name="Team PT", slug="acme-pt", type="round_robin", description="", is_public=False,
        staff_ids=(gym.sam.id, gym.alex.id), appointment_type_ids=(gym.yoga.id,)))
    assert link.id == gym.link.id
    db.session.expire_all()
    row = db.session.get(BookingLink, gym.link.id)
    assert (row.name, row.slug, row.type, row.description, row.is_public, row.user_id) == (
        "Team PT", "acme-pt", "round_robin", None, False, None)  # keeping its own slug is no clash
    assert [m.name for m in row.staff] == ["Alex", "Sam"] and [t.name for t in row.appointment_types] == ["Yoga"]
    assert version(db, gym.org) > before
    # Back to an individual link: the one trainer becomes the owner again.
    update_booking_link(gym.org.id, gym.link.id, link_input(gym, slug="acme-pt", staff_ids=(gym.kim.id,)))
    db.session.expire_all()
    assert db.session.get(BookingLink, gym.link.id).user_id == gym.kim.id


def test_a_refused_link_update_changes_nothing(db, gym):
    create_booking_link(gym.org.id, link_input(gym, slug="taken"))
    before = version(db, gym.org)
    fields = refused(lambda: update_booking_link(gym.org.id, gym.link.id, link_input(
        gym, name="Renamed", slug="taken", staff_ids=(gym.rival_ann.id,))))
    assert fields == {"slug": "already used by another booking page", "staff_ids": "unknown member of staff"}
    db.session.expire_all()
    row = db.session.get(BookingLink, gym.link.id)
    assert (row.name, row.slug, row.user_id, [m.id for m in row.staff]) == ("Acme PT", "acme-pt", gym.alex.id,
                                                                            [gym.alex.id])
    assert version(db, gym.org) == before


def test_deactivate_and_reactivate_a_link(db, gym):
    before = version(db, gym.org)
    assert set_booking_link_active(gym.org.id, gym.link.id, False).is_active is False
    db.session.expire_all()
    assert db.session.get(BookingLink, gym.link.id).is_active is False
    after_off = version(db, gym.org)
    assert after_off > before
    assert set_booking_link_active(gym.org.id, gym.link.id, True).is_active is True
    assert version(db, gym.org) > after_off


def test_booking_links_lists_the_organizations_links_or_one_persons(gym):
    team = create_booking_link(gym.org.id, link_input(gym, name="A team", slug="a-team", type="collective",
                                                      staff_ids=(gym.sam.id, gym.kim.id)))
    set_booking_link_active(gym.org.id, team.id, False)
    create_booking_link(gym.org.id, link_input(gym, name="Zed", slug="zed", staff_ids=(gym.sam.id,)))
    assert [link.slug for link in booking_links(gym.org.id)] == ["acme-pt", "zed", "a-team"]  # active first
    assert [link.slug for link in booking_links(gym.org.id, staff_id=gym.sam.id)] == ["zed", "a-team"]
    assert [link.slug for link in booking_links(gym.org.id, staff_id=gym.alex.id)] == ["acme-pt"]
    assert booking_links(gym.org.id, staff_id=gym.rival_ann.id) == []


# --- scoping ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad_id", [None, "", "not-a-uuid", "12", uuid.uuid4()])
def test_unknown_or_malformed_ids_are_not_found(gym, bad_id):
    for lookup in (get_appointment_type, get_booking_link):
        with pytest.raises(NotFound):
            lookup(gym.org.id, bad_id)


def test_another_organizations_rows_are_not_found(db, gym):
    ours = gym.org.id
    calls = [
        lambda: get_appointment_type(ours, gym.rival_pt.id),
        lambda: update_appointment_type(ours, gym.rival_pt.id, spin()),
        lambda: set_appointment_type_active(ours, gym.rival_pt.id, False),
        lambda: get_booking_link(ours, gym.rival_link.id),
        lambda: update_booking_link(ours, gym.rival_link.id, link_input(gym, slug="rival-pt")),
        lambda: set_booking_link_active(ours, gym.rival_link.id, False),
        lambda: update_branding(ours, gym.rival_link.id, BrandingInput(primary_color="#000000")),
    ]
    before = (version(db, gym.org), version(db, gym.rival))
    for call in calls:
        with pytest.raises(NotFound):
            call()
    db.session.expire_all()
    rival_pt = db.session.get(AppointmentType, gym.rival_pt.id)
    rival_link = db.session.get(BookingLink, gym.rival_link.id)
    assert (rival_pt.name, rival_pt.is_active) == ("Rival PT", True)
    assert (rival_link.is_active, rival_link.staff[0].id, rival_link.branding.primary_color) == (
        True, gym.rival_ann.id, "#1f4fd1")
    assert (version(db, gym.org), version(db, gym.rival)) == before
    assert all(t.organization_id == ours for t in appointment_types(ours))
    assert all(link.organization_id == ours for link in booking_links(ours))


# --- branding --------------------------------------------------------------------------------------

def test_validate_branding_normalises(gym):
    clean = validate_branding(BrandingInput(logo_url="  https://cdn.example/logo.png ", primary_color=" #AABBCC ",
                                            accent_color="", welcome_text="  Hello!  "))
    assert clean == BrandingInput(logo_url="https://cdn.example/logo.png", primary_color="#aabbcc",
                                  accent_color=None, welcome_text="Hello!")
    assert validate_branding(BrandingInput()) == BrandingInput()


@pytest.mark.parametrize("logo", ["https://cdn.example/logo.png", "http://cdn.example/logo.png", "/static/logo.png",
                                  "https://cdn.example/" + "l" * 480])
def test_logo_urls_allowed(gym, logo):
    assert validate_branding(BrandingInput(logo_url=logo)).logo_url == logo


@pytest.mark.parametrize(("logo", "message"), [
    ("javascript:alert(1)", "an https:// address (or a path on this site)"),
    ("JaVaScRiPt:alert(1)", "an https:// address (or a path on this site)"),
    ("data:image/svg+xml;base64,PHN2Zz4=", "an https:// address (or a path on this site)"),
    ("ftp://example.com/logo.png", "an https:// address (or a path on this site)"),
    ("//evil.example/logo.png", "an https:// address (or a path on this site)"),
    ("logo.png", "an https:// address (or a path on this site)"),
    ("https://cdn.example/" + "l" * 481, "at most 500 characters"),
])
def test_logo_urls_refused(gym, logo, message):
    assert refused(lambda: validate_branding(BrandingInput(logo_url=logo))) == {"logo_url": message}


def test_a_backslash_path_is_not_a_path_on_this_site(gym):
    fields = refused(lambda: validate_branding(BrandingInput(logo_url="/\\evil.example/logo.png")))
    assert fields == {"logo_url": "an https:// address (or a path on this site)"}


@pytest.mark.parametrize("field", ["primary_color", "accent_color"])
@pytest.mark.parametrize("colour", ["red", "#12345", "#1234567", "#ggg000", "1f4fd1", "#1f4fd1;x:y", "#1f\n4fd1"])
def test_bad_colours_are_refused(gym, field, colour):
    assert refused(lambda: validate_branding(BrandingInput(**{field: colour}))) == {field: "a colour like #1f4fd1"}


def test_a_colour_with_a_trailing_newline_is_never_stored_with_it(db, gym):
    """Surrounding white space is trimmed, so '#ff0000\\n' is saved clean: the newline never reaches the page."""
    try:
        branding = update_branding(gym.org.id, gym.link.id, BrandingInput(primary_color="#ff0000\n"))
    except InvalidRequest as error:
        assert error.fields == {"primary_color": "a colour like #1f4fd1"}
    else:
        db.session.expire_all()
        assert db.session.get(LinkBranding, branding.id).primary_color == "#ff0000"




def test_welcome_text_is_at_most_1000_characters(gym):
    assert validate_branding(BrandingInput(welcome_text="w" * 1000)).welcome_text == "w" * 1000
    assert refused(lambda: validate_branding(BrandingInput(welcome_text="w" * 1001))) == {
        "welcome_text": "at most 1,000 characters"}


def test_every_branding_field_at_fault_is_named_at_once(gym):
    fields = refused(lambda: validate_branding(BrandingInput(logo_url="javascript:x", primary_color="red",
                                                             accent_color="#12", welcome_text="w" * 1001)))
    assert set(fields) == {"logo_url", "primary_color", "accent_color", "welcome_text"}


def test_update_branding_saves_the_clean_values(db, gym):
    branding = update_branding(gym.org.id, str(gym.link.id), BrandingInput(
        logo_url=" /static/acme.png ", primary_color="#7C3AED", accent_color="#f59e0b", welcome_text=" Hi "))
    db.session.expire_all()
    row = db.session.get(LinkBranding, branding.id)
    assert (row.booking_link_id, row.organization_id) == (gym.link.id, gym.org.id)
    assert (row.logo_url, row.primary_color, row.accent_color, row.welcome_text) == (
        "/static/acme.png", "#7c3aed", "#f59e0b", "Hi")
    assert count(db, LinkBranding) == 2  # Acme's and Rival's: updated, not added
    # Clearing a field stores None (the page then falls back to the defaults).
    update_branding(gym.org.id, gym.link.id, BrandingInput(primary_color="", welcome_text=""))
    db.session.expire_all()
    row = db.session.get(LinkBranding, branding.id)
    assert (row.logo_url, row.primary_color, row.accent_color, row.welcome_text) == (None, None, None, None)


def test_a_refused_branding_update_changes_nothing(db, gym):
    assert refused(lambda: update_branding(gym.org.id, gym.link.id, BrandingInput(primary_color="red",
                                                                                  welcome_text="Changed"))) == {
        "primary_color": "a colour like #1f4fd1"}
    db.session.expire_all()
    row = db.session.get(BookingLink, gym.link.id).branding
    assert (row.primary_color, row.welcome_text) == ("#1f4fd1", "Welcome!")


def test_update_branding_creates_the_row_a_link_lacks(db, gym):
    bare = BookingLink(organization_id=gym.org.id, slug="bare", name="Bare", type="individual", user_id=gym.alex.id)
    bare.staff, bare.appointment_types = [gym.alex], [gym.pt]
    db.session.add(bare)
    db.session.commit()
    assert bare.branding is None
    branding = update_branding(gym.org.id, bare.id, BrandingInput(primary_color="#000000"))
    db.session.expire_all()
    row = db.session.get(BookingLink, bare.id).branding
    assert row.id == branding.id and (row.organization_id, row.primary_color) == (gym.org.id, "#000000")


# --- slug suggestions ------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "slug"), [
    ("Personal Training", "personal-training"),
    ("  Spin & Core: 45' ", "spin-core-45"),
    ("Yoga--Flow!!", "yoga-flow"),
    ("", "booking"),
    (None, "booking"),
    ("!!!", "booking"),
])
def test_slug_suggestion_makes_a_slug_of_the_name(gym, name, slug):
    assert slug_suggestion(name) == slug


def test_slug_suggestion_skips_slugs_in_use_anywhere(gym):
    assert slug_suggestion("Acme PT") == "acme-pt-2"  # Acme's own link
    assert slug_suggestion("Rival PT") == "rival-pt-2"  # slugs are global: Rival's counts too
    create_booking_link(gym.org.id, link_input(gym, slug="acme-pt-2"))
    assert slug_suggestion("Acme PT") == "acme-pt-3"


def test_slug_suggestion_is_accepted_by_create_booking_link(gym):
    slug = slug_suggestion("Spin with Sam")
    assert create_booking_link(gym.org.id, link_input(gym, slug=slug)).slug == slug == "spin-with-sam"


def test_slug_suggestion_is_at_most_60_characters_before_its_number(gym):
    slug = slug_suggestion("x" * 100)
    assert slug == "x" * 60
    create_booking_link(gym.org.id, link_input(gym, slug=slug))
    assert slug_suggestion("x" * 100) == "x" * 60 + "-2"


def test_slug_suggestion_of_a_long_name_is_a_valid_slug(gym):
    slug = slug_suggestion("a" * 59 + " gym")
    assert re.match(SLUG_SHAPE, slug), slug
    assert create_booking_link(gym.org.id, link_input(gym, slug=slug)).slug == slug

