from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.models import Id, common_tables, new_id, service_base, utcnow

Base = service_base()
tables = common_tables(Base.metadata)


class EventInfo(Base):
    """What the door needs to know of an event, kept from event.published/updated."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    early_entry_minutes: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    ticket_type_names: Mapped[dict] = mapped_column(JSON, default=dict)


class PublicKey(Base):
    __tablename__ = "public_keys"

    key_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    event_id: Mapped[str] = mapped_column(Id, index=True)
    public_key: Mapped[str] = mapped_column(String(64))


class RosterTicket(Base):
    """A ticket the door may admit, kept from ticket.issued/ticket.revoked."""

    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    event_id: Mapped[str] = mapped_column(Id, index=True)
    registration_id: Mapped[str] = mapped_column(Id)
    ticket_type_id: Mapped[str] = mapped_column(Id)
    attendee_name: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class CheckinList(Base):
    """A gate or area: which ticket types it admits."""

    __tablename__ = "checkin_lists"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # None admits every ticket type of the event.
    ticket_type_ids: Mapped[list | None] = mapped_column(JSON)
    is_default: Mapped[bool] = mapped_column(default=False)


class Admission(Base):
    """The first admitted entry of a ticket on a list; the unique pair makes two doors
    scanning one ticket at the same moment give exactly one `ok`."""

    __tablename__ = "admissions"
    __table_args__ = (UniqueConstraint("list_id", "ticket_id"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    list_id: Mapped[str] = mapped_column(ForeignKey("checkin_lists.id"))
    ticket_id: Mapped[str] = mapped_column(Id)
    scan_id: Mapped[str] = mapped_column(String(100))
    admitted_at: Mapped[datetime]


class Scan(Base):
    """Every scan with its answer; the client-made id makes a retried upload count once.
    Ids are unique per organisation, so one organisation's ids never reveal another's scans."""

    __tablename__ = "scans"

    organisation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    scan_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    list_id: Mapped[str | None] = mapped_column(Id, index=True)
    ticket_id: Mapped[str | None] = mapped_column(Id, index=True)
    verdict: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(3))
    scanned_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    answer: Mapped[dict] = mapped_column(JSON)
