from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
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
    # What the door shows in its own language, where the organiser gave one:
    # {"title": {locale: title}, "ticket_types": {ticket type id: {locale: name}}}.
    texts: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    # IANA name; "once per day" lists count days on the event's own calendar.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")


class PublicKey(Base):
    """An event's signing key, kept from ticket.issued and signing_key.retired: it verifies
    tokens of its own event only, and none once retired."""

    __tablename__ = "public_keys"

    key_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    event_id: Mapped[str] = mapped_column(Id, index=True)
    # None for a key whose retirement arrived before any ticket it signed.
    public_key: Mapped[str | None] = mapped_column(String(64))
    retired_at: Mapped[datetime | None]


class RosterTicket(Base):
    """A ticket the door may admit, kept from ticket.issued/ticket.revoked."""

    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    event_id: Mapped[str] = mapped_column(Id, index=True)
    registration_id: Mapped[str] = mapped_column(Id, index=True)
    ticket_type_id: Mapped[str] = mapped_column(Id)
    attendee_name: Mapped[str] = mapped_column(String(200))
    # Producers that predate the field send no email; search by email then finds nothing.
    attendee_email: Mapped[str | None] = mapped_column(String(320))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # From ticket.issued: a scan of exactly this token needs no signature check. None for
    # tickets from producers that predate it; their scans are checked by signature.
    token_sha256: Mapped[str | None] = mapped_column(String(64))


class CheckinList(Base):
    """A gate or area: which ticket types it admits, when, and how often."""

    __tablename__ = "checkin_lists"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # None admits every ticket type of the event.
    ticket_type_ids: Mapped[list | None] = mapped_column(JSON)
    is_default: Mapped[bool] = mapped_column(default=False)
    session_id: Mapped[str | None] = mapped_column(String(64))
    # The entry window narrows the ticket's own validity; None leaves that side open.
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    reentry: Mapped[str] = mapped_column(String(16), default="once", server_default="once")


class Admission(Base):
    """One admitted entry of a ticket on a list, from its entry scan to its exit (if any).

    `entry_key` names the entry the list's re-entry policy allows ("once", the day on the
    event's calendar, or the visit number); the unique triple makes two doors scanning one
    ticket at the same moment give exactly one `ok`, decided by the database.
    """

    __tablename__ = "admissions"
    __table_args__ = (UniqueConstraint("list_id", "ticket_id", "entry_key"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    list_id: Mapped[str] = mapped_column(ForeignKey("checkin_lists.id"))
    ticket_id: Mapped[str] = mapped_column(Id, index=True)
    entry_key: Mapped[str] = mapped_column(String(32), default="once", server_default="once")
    scan_id: Mapped[str] = mapped_column(String(100))
    admitted_at: Mapped[datetime]
    exited_at: Mapped[datetime | None]
    # None with exited_at set: closed by the next day's entry, not by an exit scan.
    exit_scan_id: Mapped[str | None] = mapped_column(String(100))


class Scan(Base):
    """Every scan with its answer; the client-made id makes a retried upload count once.
    An id is unique within its sender (`scope`: the device's or organiser's token), so a
    repeated id answers only to whoever sent it first; anyone else's is a scan of its own."""

    __tablename__ = "scans"
    __table_args__ = (Index("ix_scans_event_scanned_at", "event_id", "scanned_at"),)

    organisation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True, server_default="")
    scan_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str | None] = mapped_column(Id)
    list_id: Mapped[str | None] = mapped_column(Id, index=True)
    ticket_id: Mapped[str | None] = mapped_column(Id, index=True)
    verdict: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(3))
    # By ticket id from a search, not by reading a code.
    manual: Mapped[bool] = mapped_column(default=False, server_default="0")
    scanned_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    answer: Mapped[dict] = mapped_column(JSON)
    # An offline scan made earlier took this scan's admission over (docs/architecture.md).
    superseded_by: Mapped[str | None] = mapped_column(String(100))


class PairingCode(Base):
    """A short code an organiser shows a door device once; stored as a digest."""

    __tablename__ = "pairing_codes"

    code_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(Id)
    list_id: Mapped[str] = mapped_column(ForeignKey("checkin_lists.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]


class Device(Base):
    """A paired door device: the staff token it holds (by digest) and where it scans."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    organisation_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(Id, index=True)
    list_id: Mapped[str] = mapped_column(ForeignKey("checkin_lists.id"))
    name: Mapped[str] = mapped_column(String(80))
    paired_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class EarlyRevocation(Base):
    """A ticket revoked before check-in received it (a retried or parallel consumer can see
    ticket.revoked before ticket.issued): it joins the roster already revoked."""

    __tablename__ = "early_revocations"

    ticket_id: Mapped[str] = mapped_column(Id, primary_key=True)
    revoked_at: Mapped[datetime]


class ErasedRegistration(Base):
    """A registration whose attendee's personal data was erased (registration.erased): its
    roster tickets keep no name or email, including one whose ticket.issued arrives after."""

    __tablename__ = "erased_registrations"

    registration_id: Mapped[str] = mapped_column(Id, primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
