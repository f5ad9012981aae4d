from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.models import Id, common_tables, new_id, service_base, utcnow

Base = service_base()
tables = common_tables(Base.metadata)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(5000), default="")
    venue: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Hong_Kong")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    early_entry_minutes: Mapped[int] = mapped_column(Integer, default=120)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketType(Base):
    __tablename__ = "ticket_types"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    quota: Mapped[int]
    # Kept beside the quota so one conditional UPDATE both checks and takes a place.
    confirmed_count: Mapped[int] = mapped_column(default=0)


class Registration(Base):
    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint("event_id", "idempotency_key"),
        Index("ix_registrations_waitlist", "ticket_type_id", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    ticket_type_id: Mapped[str] = mapped_column(ForeignKey("ticket_types.id"))
    attendee_name: Mapped[str] = mapped_column(String(200))
    attendee_email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(24))
    manage_token: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    checked_in_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
