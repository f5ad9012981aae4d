from datetime import datetime

from sqlalchemy import JSON, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.models import Id, common_tables, service_base, utcnow

Base = service_base()
tables = common_tables(Base.metadata)


class EventInfo(Base):
    """What ticketing needs to know of an event, kept from event.published/updated."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    venue: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    early_entry_minutes: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    ticket_type_names: Mapped[dict] = mapped_column(JSON, default=dict)


class SigningKey(Base):
    __tablename__ = "signing_keys"

    key_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    private_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    public_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    # One ticket per registration, whatever the bus redelivers.
    registration_id: Mapped[str] = mapped_column(Id, unique=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    ticket_type_id: Mapped[str] = mapped_column(Id)
    attendee_name: Mapped[str] = mapped_column(String(200))
    attendee_email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(String(256))
    key_id: Mapped[str] = mapped_column(ForeignKey("signing_keys.key_id"))
    qr_secret: Mapped[str] = mapped_column(String(64))
    manage_token_sha256: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
