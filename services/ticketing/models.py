from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column, synonym

from shared.mail.outbox import define_mail_outbox_table
from shared.models import Id, common_tables, service_base, utcnow

Base = service_base()
tables = common_tables(Base.metadata)
mail_outbox = define_mail_outbox_table(Base.metadata)


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
    # The organiser's texts in the other languages (ticket_view.py shows them):
    # {locale: {"title": ..., "venue": ..., "ticket_type_names": {ticket type id: name}}}.
    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")


class SigningKey(Base):
    __tablename__ = "signing_keys"

    key_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    # Sealed under the key-encryption key (ticket_secrets.py): a copied database signs nothing.
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary(60))
    public_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


VALID_TICKET = text("status = 'valid'")


class Ticket(Base):
    """A signed ticket. A registration keeps every ticket it ever had (a reissue revokes the
    old one and adds a new one); at most one of them is valid, which the database enforces."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index(
            "uq_tickets_valid_registration_id",
            "registration_id",
            unique=True,
            sqlite_where=VALID_TICKET,
            postgresql_where=VALID_TICKET,
        ),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    registration_id: Mapped[str] = mapped_column(Id, index=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    ticket_type_id: Mapped[str] = mapped_column(Id)
    attendee_name: Mapped[str] = mapped_column(String(200))
    attendee_email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(String(256))
    key_id: Mapped[str] = mapped_column(ForeignKey("signing_keys.key_id"))
    # The SHA-256 of the key its mail carried (ticket_secrets.py); the key itself is not kept.
    qr_key_sha256: Mapped[str] = mapped_column(String(64))
    manage_token_sha256: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    # The attendee's language for mail, as registration told it (None: not told, English).
    locale: Mapped[str | None] = mapped_column(String(35))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    # cancelled, reissued or key_retired: the ticket page tells the attendee which.
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class TicketImage(Base):
    """A ticket's QR code, rendered once and kept (see service.ticket_images)."""

    __tablename__ = "ticket_images"

    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
    svg: Mapped[bytes] = mapped_column(LargeBinary)


class OutgoingMail(Base):
    """A row of ticketing's mail outbox (shared/mail/outbox.py): a ticket's mail is written
    there in the ticket's own transaction and sent later by the mail relay, so a mail server
    outage delays mail but never loses it. Its kind is "ticket", and `about_id` the ticket."""

    __table__ = mail_outbox
    # Ticketing's one kind of mail is about a ticket.
    ticket_id = synonym("about_id")


class CancelledRegistration(Base):
    """A registration cancelled before its confirmation reached ticketing (a retried or
    parallel consumer can see the two out of order): its confirmation then issues nothing."""

    __tablename__ = "cancelled_registrations"

    registration_id: Mapped[str] = mapped_column(Id, primary_key=True)
    cancelled_at: Mapped[datetime] = mapped_column(default=utcnow)


class ErasedRegistration(Base):
    """A registration whose attendee's personal data was erased (registration.erased): its
    tickets keep no name or email, including one whose confirmation arrives afterwards."""

    __tablename__ = "erased_registrations"

    registration_id: Mapped[str] = mapped_column(Id, primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
