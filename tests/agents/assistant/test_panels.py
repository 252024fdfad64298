"""The assistant's panels and endpoints: public booking page and dashboard, with and without a key,
as plain form posts (no JavaScript) and htmx requests."""
from __future__ import annotations

import pytest
from anthropic_standin import Fail, result_json, text, tool_results, tool_use
from assistant_helpers import HTMX, MONDAY_9, csrf_of, said, state_of
from assistant_helpers import text as body
from sqlalchemy import select

from app.models import Booking, BookingAudit


def post(client, url, token, message, state="", headers=None, decision=None):
    data = {"csrf_token": token, "message": message, "state": state}
    if decision:
        data["decision"] = decision
    return client.post(url, data=data, headers=headers or {})


@pytest.fixture
def visitor(client, link):
    """A visitor on the booking page: (client, CSRF token)."""
    page = client.get("/book/pt")
    assert page.status_code == 200
    return client, csrf_of(page)


# --- without a key ------------------------------------------------------------------------------------

@pytest.fixture
def no_key(app):
    app.config["ANTHROPIC_API_KEY"] = None
    return app


def test_without_a_key_there_is_no_panel_and_no_endpoint(no_key, client, link, owner, signed_in, standin):
    page = client.get("/book/pt")
    assert page.status_code == 200 and 'id="assistant"' not in body(page) and "assistant.js" not in body(page)
    assert post(client, "/book/pt/assistant", csrf_of(page), "Hello").status_code == 404
    assert client.get("/book/pt/assistant").status_code == 404

    staff, token = signed_in(owner)
    home = staff.get("/dashboard/")
    assert home.status_code == 200 and "assistant-dock" not in body(home)
    assert staff.get("/dashboard/assistant").status_code == 404
    assert post(staff, "/dashboard/assistant", token, "Hello").status_code == 404
    assert standin.calls == 0


# --- the public booking page -------------------------------------------------------------------------

def test_the_booking_page_has_an_accessible_panel(client, link):
    page = body(client.get("/book/pt"))
    assert 'id="assistant"' in page and 'aria-labelledby="assistant-title"' in page
    assert 'role="log" aria-live="polite"' in page
    assert '<label class="field__label" for="assistant-message">Your message</label>' in page
    assert 'action="/book/pt/assistant#assistant"' in page and 'hx-post="/book/pt/assistant"' in page
    assert '<input type="hidden" name="state" value="">' in page


def test_a_plain_form_post_shows_the_conversation_and_carries_it(visitor, standin):
    client, token = visitor
    standin.script(text("Happy to help! Which day suits you?"), text("Monday it is — morning or afternoon?"))

    first = post(client, "/book/pt/assistant", token, "I'd like a PT session")
    assert first.status_code == 200
    assert "<html" in body(first) and "Book Personal Training" in body(first)  # the whole page again
    assert said(first) == [("person", "I'd like a PT session"),
                           ("assistant", "Happy to help! Which day suits you?")]
    assert first.headers["Cache-Control"] == "no-store"
    state = state_of(first)
    assert state

    second = post(client, "/book/pt/assistant", token, "Monday", state=state)
    assert [who for who, _ in said(second)] == ["person", "assistant", "person", "assistant"]
    assert said(second)[-1] == ("assistant", "Monday it is — morning or afternoon?")
    # The model saw the whole conversation, from the carried state.
    sent = standin.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[0]["content"][0]["text"] == "I'd like a PT session"
    assert sent[1]["content"][0]["text"] == "Happy to help! Which day suits you?"


def test_htmx_gets_the_new_exchange_and_a_fresh_form(visitor, standin, db, org):
    client, token = visitor
    standin.script(
        tool_use("find_availability", {"date": "2030-01-07", "bookingLinkSlug": "pt"}),
        lambda request: tool_use("book_slot", {**{k: result_json(tool_results(request)[0])["slots"][0][k] for k in
                                                  ("startTime", "staffId", "appointmentTypeId", "bookingLinkSlug")},
                                               "attendeeName": "Jane Smith", "attendeeEmail": "jane@example.com"}),
    )
    asked = post(client, "/book/pt/assistant", token, "Yes, book Monday 9am for Jane Smith, jane@example.com",
                 headers=HTMX)

    assert asked.status_code == 200
    page = body(asked)
    assert "<html" not in page and 'id="assistant-log"' not in page  # only what the log gains
    assert said(asked)[0] == ("person", "Yes, book Monday 9am for Jane Smith, jane@example.com")
    assert "✓ Checked free times" in said(asked)[1][1] and "… Waiting for your confirmation" in said(asked)[1][1]
    # The form comes back out of band with the change to confirm, and nothing is booked yet.
    assert '<form id="assistant-form"' in page and 'hx-swap-oob="true"' in page
    assert 'name="decision" value="confirm"' in page and 'name="decision" value="decline"' in page
    assert ("<li>Book Personal Training with Alex Morgan on Monday 7 January 2030 at 09:00 for Jane Smith "
            "(jane@example.com)</li>") in page
    assert db.session.scalars(select(Booking)).all() == []

    standin.script(lambda request: text("Booked! Change or cancel it here: "
                                        + result_json(tool_results(request)[0])["manageUrl"]))
    response = post(client, "/book/pt/assistant", token, "", state=state_of(asked), headers=HTMX, decision="confirm")
    assert response.status_code == 200
    page = body(response)
    assert said(response)[0][0] == "person" and said(response)[0][1].startswith("Yes — go ahead.")
    assert "✓ Booked" in said(response)[1][1]
    # The manage link (on this site) is a link; the form comes back without the question.
    booking = db.session.scalars(select(Booking)).one()
    assert booking.start_at == MONDAY_9
    assert '<a href="http://localhost/booking/manage/' in page
    assert 'name="decision"' not in page and state_of(response)
    assert response.headers["Cache-Control"] == "no-store"
    audit = db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking.id)).one()
    assert (audit.actor_type, audit.actor_id) == ("ai", f"public-assistant:{org.id}")
    assert audit.ip_address == "127.0.0.1"


def test_the_csrf_token_is_required(visitor, standin):
    client, _ = visitor
    response = client.post("/book/pt/assistant", data={"message": "Hello", "state": ""})
    assert response.status_code == 400
    response = client.post("/book/pt/assistant", data={"message": "Hello", "state": "", "csrf_token": "forged"},
                           headers=HTMX)
    assert response.status_code == 400
    assert standin.calls == 0


def test_an_empty_message_is_asked_for_again(visitor, standin):
    client, token = visitor
    response = post(client, "/book/pt/assistant", token, "   ")
    assert response.status_code == 422 and "Please type a message first." in body(response)
    assert 'aria-invalid="true"' in body(response) and "<html" in body(response)

    response = post(client, "/book/pt/assistant", token, "x" * 1001, headers=HTMX)
    assert response.status_code == 422 and "Please keep it under 1000 characters." in body(response)
    assert response.headers["HX-Retarget"] == "#assistant-form" and response.headers["HX-Reswap"] == "outerHTML"
    assert standin.calls == 0


def test_a_tampered_or_foreign_conversation_starts_afresh(visitor, standin, make_link, alex, pt_type, client):
    client, token = visitor
    standin.script(text("First answer"), text("Fresh start"), text("Other page"), text("Another fresh start"))
    state = state_of(post(client, "/book/pt/assistant", token, "Hello"))

    tampered = post(client, "/book/pt/assistant", token, "Hello again", state=state[:-3] + "AAA")
    assert tampered.status_code == 200
    assert said(tampered)[0][0] == "notice" and said(tampered)[1:] == [("person", "Hello again"),
                                                                       ("assistant", "Fresh start")]
    assert len(standin.requests[1]["messages"]) == 1  # nothing of the old conversation was sent

    # A conversation is bound to the page it was signed for.
    make_link([alex], [pt_type], slug="pt-2")
    other = client.get("/book/pt-2")
    state_other = state_of(post(client, "/book/pt-2/assistant", csrf_of(other), "Hi"))
    foreign = post(client, "/book/pt/assistant", token, "Hi from elsewhere", state=state_other, headers=HTMX)
    assert foreign.status_code == 200 and foreign.headers["HX-Reswap"].startswith("innerHTML")
    assert said(foreign)[0][0] == "notice" and len(standin.requests[3]["messages"]) == 1


def test_the_api_failing_is_a_polite_page_not_an_error(visitor, standin):
    client, token = visitor
    standin.script(Fail(500))
    response = post(client, "/book/pt/assistant", token, "Hello")
    assert response.status_code == 200
    assert said(response)[-1] == ("assistant", "Sorry — the assistant can't answer just now. Please try again in a "
                                               "moment, or choose a time with the calendar on this page.")
    assert "assistant-msg--failed" in body(response)


def test_coming_back_to_the_address_of_a_post_goes_to_the_booking_page(client, link):
    response = client.get("/book/pt/assistant?tz=Asia/Tokyo")
    assert response.status_code == 303 and response.headers["Location"] == "/book/pt?tz=Asia/Tokyo"


def test_unknown_pages_are_404(visitor, standin):
    client, token = visitor
    assert post(client, "/book/nope/assistant", token, "Hello").status_code == 404
    assert standin.calls == 0


def test_the_public_endpoint_is_rate_limited(make_app, app_config, link, standin):
    limited = make_app(dict(app_config, RATELIMIT_ENABLED=True, RATELIMIT_ASSISTANT="2/minute"))
    standin.default = text("Hello!")
    with limited.app_context():
        client = limited.test_client()
        token = csrf_of(client.get("/book/pt"))
        statuses = [post(client, "/book/pt/assistant", token, "Hi").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert standin.calls == 2


# --- the dashboard -----------------------------------------------------------------------------------

def test_every_dashboard_page_has_the_dock(owner, signed_in):
    staff, _ = signed_in(owner)
    page = body(staff.get("/dashboard/"))
    assert '<details class="assistant-dock">' in page and 'action="/dashboard/assistant#assistant"' in page
    own_page = body(staff.get("/dashboard/assistant"))
    assert own_page.count('id="assistant"') == 1 and "assistant-dock" not in own_page


def test_an_owner_books_from_the_dashboard(owner, signed_in, standin, link, alex, pt_type, db):
    staff, token = signed_in(owner)
    standin.script(
        tool_use("book_slot", {"startTime": "2030-01-07T09:00:00Z", "staffId": str(alex.id),
                               "appointmentTypeId": str(pt_type.id), "attendeeName": "Tom Client",
                               "attendeeEmail": "tom@example.com"}),
        lambda request: text("Booked Tom in." if "is_error" not in tool_results(request)[0] else "failed"),
    )
    asked = post(staff, "/dashboard/assistant", token, "Book Tom Client (tom@example.com) Monday 9am", headers=HTMX)
    assert asked.status_code == 200 and "HX-Trigger" not in asked.headers  # nothing changed yet
    assert db.session.scalars(select(Booking)).all() == []

    response = post(staff, "/dashboard/assistant", token, "", state=state_of(asked), headers=HTMX,
                    decision="confirm")
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "bookingChanged"
    assert said(response)[-1][1].endswith("Booked Tom in.")
    booking = db.session.scalars(select(Booking)).one()
    audit = db.session.scalars(select(BookingAudit).where(BookingAudit.booking_id == booking.id)).one()
    assert (audit.actor_type, audit.actor_id) == ("ai", f"assistant:{owner.id}")
    assert "helping Olive Owner, whose role is owner" in standin.requests[0]["system"]


def test_the_dashboard_form_works_without_javascript(owner, signed_in, standin):
    staff, token = signed_in(owner)
    standin.script(text("You have no bookings tomorrow."))
    response = post(staff, "/dashboard/assistant", token, "Anything tomorrow?")
    assert response.status_code == 200 and "<html" in body(response)
    assert said(response) == [("person", "Anything tomorrow?"), ("assistant", "You have no bookings tomorrow.")]


def test_the_dashboard_endpoint_needs_sign_in_and_csrf(client, owner, signed_in, standin):
    token = csrf_of(client.get("/auth/login"))  # a valid token, but nobody signed in
    response = post(client, "/dashboard/assistant", token, "Hello")
    assert response.status_code in (302, 303) and "/auth/login" in response.headers["Location"]
    assert post(client, "/dashboard/assistant", token, "Hello", headers=HTMX).status_code == 401
    staff, _ = signed_in(owner)
    assert staff.post("/dashboard/assistant", data={"message": "Hello"}).status_code == 400
    assert standin.calls == 0


def test_a_staff_conversation_cannot_be_replayed_by_someone_else(owner, make_user, org, signed_in, standin):
    admin = make_user(org=org, name="Ada Admin", role="admin")
    standin.script(text("Noted."), text("Hello Ada."))
    olive, olive_token = signed_in(owner)
    state = state_of(post(olive, "/dashboard/assistant", olive_token, "My secret plan"))
    ada, ada_token = signed_in(admin)
    response = post(ada, "/dashboard/assistant", ada_token, "Hi", state=state)
    assert said(response)[0][0] == "notice" and "My secret plan" not in body(response)
    assert len(standin.requests[1]["messages"]) == 1
