"""Clients: the people who book at a gym, one record per organization and email address.

Promises:

* Every booking made through create_booking is linked to its client in the booking's own
  transaction (`attach_client`): the organization's client with the same address, letter case
  aside, or a new one named after the booking. Two first bookings by the same new address at the
  same moment make one client — never two, never an error: the row is written with one INSERT …
  ON CONFLICT DO UPDATE … RETURNING against the (organization, email) unique constraint (on
  PostgreSQL the second insert waits for the first transaction and then updates its row; on SQLite
  booking transactions are serialised anyway). A booking that fails leaves no client behind.
* The client's name and phone are those of their latest booking (a booking without a phone keeps
  the one the client had); notes and marketing opt-outs are the staff's (`update_client`).
* Every read is within one organization (another's id is NotFound). Owners and admins see every
  client; a trainer (`staff_id`) sees only the clients they have a booking with (in any status),
  and of each client only their own bookings — the same rule as the booking list.
* A collective booking (one row per trainer) is one booking in the organization's counts, as in the
  booking list; in a trainer's view their own row counts.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import ACTIVE_STATUSES, Booking, ClassBooking, ClassSession, Client, NotificationOptOut
from app.services.errors import InvalidRequest
from app.services.notifications.sms_status import unreachable_reason
from app.services.reports import one_row_per_booking
from app.services.scoping import org_row

PER_PAGE = 50
EXPORT_MAX = 20_000  # rows in one CSV file: more than any gym's client list, and a bound on the work
HISTORY_MAX = 200  # past bookings listed on a client's page (the counts cover them all)
NOTES_MAX = 5000
QUERY_MAX = 100
_STATS_CHUNK = 500  # client ids per statistics query (SQLite caps bound parameters)


def client_email(email: str) -> str:
    """The key a client is found by: a booking's address as normalise_email left it, lower-cased
    (email-validator keeps the case of the part before the @; people do not mean it)."""
    return email.strip().lower()


# --- the booking path --------------------------------------------------------------------------------

def attach_client(org_id: uuid.UUID, *, email: str, name: str, phone: str | None = None,
                  now: datetime | None = None) -> uuid.UUID:
    """The id of the organization's client with this (normalised) address, created if there is none,
    its name and phone brought up to date from this booking. Runs in the caller's transaction and
    does not commit: the caller's rollback takes a new client back with the booking."""
    now = now or datetime.now(timezone.utc)
    key = client_email(email)
    db.session.flush()  # rows the caller added (a new organization) before the statement that refers to them
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Client.__table__).values(
        id=uuid.uuid4(), organization_id=org_id, name=name, email=key, phone=phone,
        marketing_email_opt_out=False, marketing_sms_opt_out=False, created_at=now, updated_at=now)
    # One statement on the booking path (it was three: insert, read, update): the new row, or the
    # existing one brought up to date — a booking without a phone keeps the client's.
    table = Client.__table__
    statement = statement.on_conflict_do_update(
        index_elements=["organization_id", "email"],
        set_={"name": statement.excluded.name, "updated_at": statement.excluded.updated_at,
              "phone": func.coalesce(statement.excluded.phone, table.c.phone)},
    ).returning(table.c.id)
    return db.session.execute(statement).scalar_one()


# --- the list ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClientRow:
    """A client with what their bookings add up to (in the viewer's scope)."""

    client: Client
    bookings: int = 0
    upcoming: int = 0
    no_shows: int = 0
    cancellations: int = 0
    next_at: datetime | None = None  # the start of their next upcoming booking
    last_at: datetime | None = None  # the start of their latest booking that has begun (not cancelled)


@dataclass(frozen=True)
class ClientPage:
    rows: list[ClientRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search_clients(org_id: uuid.UUID, q: str | None = None, *, staff_id: uuid.UUID | None = None, page: int = 1,
                   per_page: int = PER_PAGE, now: datetime | None = None) -> ClientPage:
    """The organization's clients (a trainer's: those they have bookings with) whose name, email or
    phone contains `q`, by name, one page of them. A phone matches as typed with or without
    spaces and its leading 0 (07700 900123 finds +447700900123). Three queries."""
    now = now or datetime.now(timezone.utc)
    conditions = _visible(org_id, staff_id) + _matching(q)
    page = max(1, page)
    clients = list(db.session.scalars(
        select(Client).where(*conditions).order_by(func.lower(Client.name), Client.email, Client.id)
        .limit(per_page).offset((page - 1) * per_page)))
    total = db.session.scalar(select(func.count()).select_from(Client).where(*conditions)) or 0
    return ClientPage(rows=_with_stats(org_id, clients, staff_id, now), total=total, page=page, per_page=per_page)


def export_clients(org_id: uuid.UUID, q: str | None = None, *, staff_id: uuid.UUID | None = None,
                   now: datetime | None = None) -> list[ClientRow]:
    """Every client search_clients would list for `q` (at most EXPORT_MAX), in the same order."""
    return search_clients(org_id, q, staff_id=staff_id, per_page=EXPORT_MAX, now=now).rows


def _visible(org_id: uuid.UUID, staff_id: uuid.UUID | None) -> list:
    conditions = [Client.organization_id == org_id]
    if staff_id is not None:
        conditions.append(or_(exists().where(Booking.client_id == Client.id, Booking.organization_id == org_id,
                                             Booking.staff_id == staff_id),
                              _in_classes_of(org_id, staff_id, Client.id)))
    return conditions


def _in_classes_of(org_id: uuid.UUID, staff_id: uuid.UUID, client_id):
    """The client holds (or held) a spot in a class this trainer teaches."""
    return exists().where(ClassBooking.client_id == client_id, ClassBooking.organization_id == org_id,
                          ClassBooking.session_id == ClassSession.id, ClassSession.instructor_id == staff_id)


def _matching(q: str | None) -> list:
    needle = " ".join((q or "").split()).lower()
    if not needle:
        return []
    if len(needle) > QUERY_MAX:
        raise InvalidRequest(f"Search for at most {QUERY_MAX} characters.",
                             fields={"q": f"at most {QUERY_MAX} characters"})
    matches = [func.lower(Client.name).contains(needle, autoescape=True),
               Client.email.contains(needle, autoescape=True)]
    digits = re.sub(r"\D", "", needle)
    if len(digits) >= 3 and re.fullmatch(r"[\d\s()+.\-]+", needle):
        matches.append(Client.phone.contains(digits))
        national = digits.lstrip("0")
        if national != digits and len(national) >= 3:  # written with the national prefix
            matches.append(Client.phone.contains(national))
    return [or_(*matches)]


def _scope(org_id: uuid.UUID, staff_id: uuid.UUID | None) -> list:
    """The booking rows a viewer counts: a trainer's own, else each booking once."""
    scope = [Booking.organization_id == org_id]
    scope.append(Booking.staff_id == staff_id if staff_id is not None else one_row_per_booking())
    return scope


def _with_stats(org_id: uuid.UUID, clients: Sequence[Client], staff_id: uuid.UUID | None,
                now: datetime) -> list[ClientRow]:
    """The clients with their bookings' counts and dates: one query per _STATS_CHUNK clients."""
    upcoming = and_(Booking.status.in_(ACTIVE_STATUSES), Booking.end_at >= now)
    stats: dict[uuid.UUID, tuple] = {}
    ids = [client.id for client in clients]
    for start in range(0, len(ids), _STATS_CHUNK):
        chunk = ids[start:start + _STATS_CHUNK]
        for row in db.session.execute(
            select(Booking.client_id, func.count(),
                   func.sum(case((upcoming, 1), else_=0)),
                   func.sum(case((Booking.status == "no_show", 1), else_=0)),
                   func.sum(case((Booking.status == "cancelled", 1), else_=0)),
                   func.min(case((upcoming, Booking.start_at))),
                   func.max(case((and_(Booking.status != "cancelled", Booking.start_at < now), Booking.start_at))))
            .where(Booking.client_id.in_(chunk), *_scope(org_id, staff_id))
            .group_by(Booking.client_id)
        ):
            stats[row[0]] = tuple(row[1:])
    rows = []
    for client in clients:
        count, soon, no_shows, cancelled, next_at, last_at = stats.get(client.id, (0, 0, 0, 0, None, None))
        rows.append(ClientRow(client=client, bookings=count or 0, upcoming=soon or 0, no_shows=no_shows or 0,
                              cancellations=cancelled or 0, next_at=_aware(next_at), last_at=_aware(last_at)))
    return rows


def _aware(value: datetime | str | None) -> datetime | None:
    """An aggregate's datetime as an aware UTC instant (SQLite hands min()/max() of a CASE back as
    text, naive)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# --- one client --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClientDetail:
    """A client and their bookings in the viewer's scope: upcoming (soonest first) and the rest —
    past, finished and cancelled — newest first (at most HISTORY_MAX; the counts cover all)."""

    client: Client
    upcoming: list[Booking]
    past: list[Booking]
    stats: ClientRow
    # Why booking messages do not reach them, if they do not: (channel, why, since), from the outbox's
    # opt-outs — their unsubscribe link (reminder emails, this gym) or STOP / an unreachable number (texts).
    message_opt_outs: tuple[tuple[str, str, datetime], ...] = field(default=())

    @property
    def past_shown_all(self) -> bool:
        return len(self.upcoming) + len(self.past) >= self.stats.bookings


def get_client(org_id: uuid.UUID, client_id) -> Client:
    """One of the organization's clients, or NotFound (another organization's id included)."""
    return org_row(Client, org_id, client_id, "client")


def has_bookings_with(org_id: uuid.UUID, client_id: uuid.UUID, staff_id: uuid.UUID) -> bool:
    """Whether this trainer has a booking (in any status) with the client, or the client has a spot
    (in any status) in a class they teach: what lets them see it."""
    return bool(db.session.scalar(select(or_(
        exists().where(Booking.organization_id == org_id, Booking.client_id == client_id,
                       Booking.staff_id == staff_id),
        _in_classes_of(org_id, staff_id, client_id)))))


def client_detail(org_id: uuid.UUID, client_id, *, staff_id: uuid.UUID | None = None,
                  now: datetime | None = None) -> ClientDetail:
    """The client's page: the client (NotFound as get_client) with their bookings, counted as in
    search_clients and listed in `staff_id`'s scope when given. Three queries."""
    now = now or datetime.now(timezone.utc)
    client = get_client(org_id, client_id)
    scope = [Booking.client_id == client.id, *_scope(org_id, staff_id)]
    upcoming = list(db.session.scalars(
        select(Booking).where(*scope, Booking.status.in_(ACTIVE_STATUSES), Booking.end_at >= now)
        .order_by(Booking.start_at, Booking.id)).unique())
    past = list(db.session.scalars(
        select(Booking).where(*scope, or_(Booking.status.not_in(ACTIVE_STATUSES), Booking.end_at < now))
        .order_by(Booking.start_at.desc(), Booking.id).limit(HISTORY_MAX)).unique())
    stats = _with_stats(org_id, [client], staff_id, now)[0]
    return ClientDetail(client=client, upcoming=upcoming, past=past, stats=stats,
                        message_opt_outs=message_opt_outs(org_id, client))


def message_opt_outs(org_id: uuid.UUID, client: Client) -> tuple[tuple[str, str, datetime], ...]:
    """What stops the booking messages reaching `client`, as the outbox applies it: an email opt-out of
    this organization for their address (reminders stop), an SMS opt-out of their number from any
    organization (every gym texts from one number; STOP or a number that cannot take texts). One query."""
    conditions = [and_(NotificationOptOut.channel == "email", NotificationOptOut.organization_id == org_id,
                       NotificationOptOut.address == client.email.lower())]
    if client.phone:
        conditions.append(and_(NotificationOptOut.channel == "sms", NotificationOptOut.address == client.phone))
    found: dict[str, tuple[str, str, datetime]] = {}
    for row in db.session.scalars(select(NotificationOptOut).where(or_(*conditions))
                                  .order_by(NotificationOptOut.created_at)):
        why = ("No reminder emails: they unsubscribed" if row.channel == "email"
               else "No texts: " + unreachable_reason(row.source))
        found.setdefault(row.channel, (row.channel, why, row.created_at))
    return tuple(found.values())


def update_client(org_id: uuid.UUID, client_id, *, notes: str | None, marketing_email_opt_out: bool,
                  marketing_sms_opt_out: bool) -> Client:
    """Save the staff's notes and the client's marketing opt-outs (NotFound as get_client;
    InvalidRequest for notes over NOTES_MAX characters). Commits."""
    client = get_client(org_id, client_id)
    text = (notes or "").replace("\r\n", "\n").strip()
    if len(text) > NOTES_MAX:
        raise InvalidRequest(f"Notes are at most {NOTES_MAX} characters.", fields={"notes": f"at most {NOTES_MAX} characters"})
    client.notes = text or None
    client.marketing_email_opt_out = bool(marketing_email_opt_out)
    client.marketing_sms_opt_out = bool(marketing_sms_opt_out)
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return client
