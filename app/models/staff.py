from __future__ import annotations

import uuid
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models.types import UTCDateTime, new_id, utcnow

ROLES = ("owner", "admin", "staff")


class User(UserMixin, db.Model):
    """A member of staff: owner, admin or trainer. Customers are attendees, not users."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('owner', 'admin', 'staff')", name="role_valid"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="staff")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    phone: Mapped[str | None] = mapped_column(String(32))
    bio: Mapped[str | None] = mapped_column(String(2000))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of every session's and remember-me cookie's identity (get_id): raising it ends them all.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    organization = relationship("Organization", back_populates="staff", lazy="joined")

    @property
    def is_active(self) -> bool:  # flask-login: deactivated staff cannot sign in
        return self.active

    def get_id(self) -> str:  # flask-login: what the session and the remember-me cookie hold
        return f"{self.id}.{self.session_version or 0}"

    def end_sessions(self) -> None:
        """Sign the person out everywhere: every session and remember-me cookie stops working."""
        self.session_version = (self.session_version or 0) + 1

    @property
    def is_admin(self) -> bool:
        return self.role in ("owner", "admin")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"
