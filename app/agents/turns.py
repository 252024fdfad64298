"""Each assistant turn answered once: the idempotency key of the chat panel.

Every state the panel carries holds a fresh turn key (assistant.encode_conversation). Posting a state
claims (audience, turn key, request) in `assistant_turns` before the assistant runs; the same claim
again — a double click, the browser resending the form, a copied request replayed later — gets the
answer the first one got, without calling the model or running a tool. That is what makes "Yes, go
ahead" posted twice one booking, as the booking form's idempotency key does for the form.

A different request from the same state (two tabs going their own ways) is a new turn. A claim whose
answer never came (the process died) is taken over once it is older than the time budget.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from app.agents.assistant import STATE_MAX_AGE
from app.extensions import db
from app.models import AssistantTurn


@dataclass(frozen=True)
class Claim:
    key_hash: str | None          # None: nothing to claim (a first message, with no state yet)
    answer: dict | None = None    # set: this turn was answered before — show that again
    busy: bool = False            # the same turn is being answered right now


def _key(audience: str, turn: str, request: str) -> str:
    return hashlib.sha256(f"{audience}\n{turn}\n{request}".encode()).hexdigest()


def claim(organization_id: uuid.UUID, audience: str, turn: str, request: str,
          now: datetime | None = None) -> Claim:
    """Claim this turn for this request, committed before anything runs."""
    if not turn:
        return Claim(None)
    now = now or datetime.now(timezone.utc)
    key_hash = _key(audience, turn, request)
    try:
        db.session.execute(delete(AssistantTurn).where(
            AssistantTurn.created_at < now - timedelta(seconds=STATE_MAX_AGE)))
        # A Core insert, not session.add: the identity map may already hold the row (a repeat in one session).
        db.session.execute(insert(AssistantTurn).values(key_hash=key_hash, organization_id=organization_id,
                                                        created_at=now))
        db.session.commit()
        return Claim(key_hash)
    except IntegrityError:
        db.session.rollback()
    row = db.session.get(AssistantTurn, key_hash, populate_existing=True)
    if row is None:  # purged in between: older than any state that can still be used
        return Claim(None)
    if row.answer is not None:
        return Claim(key_hash, answer=row.answer)
    abandoned = row.created_at < now - timedelta(seconds=2 * current_app.config["ASSISTANT_TIME_BUDGET"])
    if abandoned:
        row.created_at = now
        db.session.commit()
        return Claim(key_hash)
    return Claim(key_hash, busy=True)


def answered(claim_: Claim, answer: dict) -> None:
    """Keep what the turn answered, for a repeat of it."""
    if claim_.key_hash is None:
        return
    row = db.session.get(AssistantTurn, claim_.key_hash)
    if row is not None:
        row.answer = answer
        db.session.commit()


def release(claim_: Claim) -> None:
    """Forget a claim whose turn did nothing that must not be repeated (the model could not be reached):
    sending the same message again then tries again."""
    if claim_.key_hash is None:
        return
    db.session.execute(delete(AssistantTurn).where(AssistantTurn.key_hash == claim_.key_hash,
                                                   AssistantTurn.answer.is_(None)))
    db.session.commit()
