from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.mail.outbox import define_mail_outbox_table
from shared.models import Id, common_tables, new_id, service_base, utcnow

Base = service_base()
tables = common_tables(Base.metadata)
# Invitations, password resets and the attendees' status mails (mail/), sent by the worker
# (shared/mail).
mail_outbox = define_mail_outbox_table(Base.metadata)

# An event: a draft, published (open to the public), unpublished (hidden again) or cancelled.
DRAFT, PUBLISHED, UNPUBLISHED, CANCELLED_EVENT = "draft", "published", "unpublished", "cancelled"
CATEGORIES = ("exhibition", "talk", "workshop", "performance", "demo_day")

# A registration. Live ones hold a place, wait for one, or wait for the organiser's decision.
PENDING_APPROVAL, CONFIRMED, WAITLISTED, OFFERED = (
    "pending_approval",
    "confirmed",
    "waitlisted",
    "offered",
)
CANCELLED, REJECTED, OFFER_EXPIRED = "cancelled", "rejected", "offer_expired"
LIVE = (PENDING_APPROVAL, CONFIRMED, WAITLISTED, OFFERED)
HOLDING_A_PLACE = (CONFIRMED, OFFERED)
STATUSES = (*LIVE, CANCELLED, REJECTED, OFFER_EXPIRED)

# A seat in a session: requested while the registration itself has no place yet, then
# confirmed or waitlisted when it gets one, cancelled when the registration ends.
REQUESTED = "requested"

REJECTION_REASON_LENGTH = 1000


class Event(Base):
    __tablename__ = "events"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(5000), default="")
    # Title, description and venue in the other languages:
    # {locale: {"title": ..., "description": ..., "venue": ...}}.
    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    venue: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Hong_Kong")
    categories: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    early_entry_minutes: Mapped[int] = mapped_column(Integer, default=120)
    # Unset: a freed place goes to the next waitlisted registration at once. Set: it is
    # offered to them, and they have this long to claim it before the next one is offered.
    waitlist_claim_minutes: Mapped[int | None]
    # Unset: personal data is kept. Set: erased this many days after the event ends.
    retention_days: Mapped[int | None]
    personal_data_erased_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketType(Base):
    __tablename__ = "ticket_types"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # The name in the other languages: {locale: {"name": ...}}.
    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    quota: Mapped[int]
    # Places taken (confirmed, or held for a waitlist offer), kept beside the quota so one
    # conditional UPDATE both checks and takes a place.
    confirmed_count: Mapped[int] = mapped_column(default=0)
    # Unset: sales open when the event is published and close when the event ends.
    sales_opens_at: Mapped[datetime | None]
    sales_closes_at: Mapped[datetime | None]
    # How many live registrations one email address may hold for this ticket type.
    per_order_limit: Mapped[int | None]
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TimeSlot(Base):
    """A time slot inside an event with its own capacity (a workshop inside a showcase). The
    API and the tables call it a session, as attendees do; the code says time slot, because
    a session there is the database's."""

    __tablename__ = "event_sessions"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    translations: Mapped[dict] = mapped_column(JSON, default=dict)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    capacity: Mapped[int]
    confirmed_count: Mapped[int] = mapped_column(default=0)


class Seat(Base):
    """A registration's seat in a time slot: requested (while the registration itself waits),
    confirmed, waitlisted or cancelled."""

    __tablename__ = "session_places"
    __table_args__ = (
        UniqueConstraint("registration_id", "session_id"),
        Index("ix_session_places_waitlist", "session_id", "status", "requested_at"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    registration_id: Mapped[str] = mapped_column(ForeignKey("registrations.id"))
    session_id: Mapped[str] = mapped_column(ForeignKey("event_sessions.id"))
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)


# What a question asks for.
TEXT, CHOICE, MULTIPLE_CHOICE, YES_NO, CONSENT = (
    "text",
    "choice",
    "multiple_choice",
    "yes_no",
    "consent",
)
KINDS = (TEXT, CHOICE, MULTIPLE_CHOICE, YES_NO, CONSENT)
WITH_OPTIONS = (CHOICE, MULTIPLE_CHOICE)


class Question(Base):
    __tablename__ = "questions"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(24))
    label: Mapped[str] = mapped_column(String(2000))
    options: Mapped[list] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    # {locale: {"label": ..., "options": [... in the same order]}}
    translations: Mapped[dict] = mapped_column(JSON, default=dict)
    removed_at: Mapped[datetime | None]


class Registration(Base):
    __tablename__ = "registrations"
    __table_args__ = (
        Index("ix_registrations_waitlist", "ticket_type_id", "status", "created_at"),
        Index("ix_registrations_email", "ticket_type_id", "attendee_email"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), index=True)
    ticket_type_id: Mapped[str] = mapped_column(ForeignKey("ticket_types.id"))
    attendee_name: Mapped[str] = mapped_column(String(200))
    attendee_email: Mapped[str] = mapped_column(String(320))
    # The language the attendee registered in: their answers' and consents' wording.
    language: Mapped[str] = mapped_column(String(16), default="en", server_default=text("'en'"))
    # {question_id: answer}: text, a choice, a list of choices, or yes/no.
    answers: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    status: Mapped[str] = mapped_column(String(24))
    # Only the digest: a copied database opens no registration.
    manage_token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # The manage token sealed with the instance's secret box (mail/manage_links.py), so that
    # a mail sent later (a place offered) carries the attendee's link while a copied database
    # opens nothing. None for registrations made before it was kept, and once erased.
    sealed_manage_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    # What the organiser wrote to the attendee when turning them down, for its mail.
    rejection_reason: Mapped[str | None] = mapped_column(String(REJECTION_REASON_LENGTH))
    offer_expires_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # The manage token itself, on a registration just made (or answered again for the same
    # request): what the attendee is handed once. Never stored, so None when read back.
    manage_token = None


class IdempotencyRecord(Base):
    """A registration request sent with an Idempotency-Key (see idempotency.py): the key
    counts for one client at one event, and its primary key decides between two requests
    sent at once."""

    __tablename__ = "idempotency_records"

    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), primary_key=True)
    client_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    registration_id: Mapped[str] = mapped_column(ForeignKey("registrations.id"), index=True)
    # Sealed with the instance's secret box: a repeat hands the token back, a copied
    # database does not.
    sealed_manage_token: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(index=True)


class ConsentRecord(Base):
    """What an attendee agreed to (or withdrew): the exact wording shown, in the language
    shown, and when. Append-only."""

    __tablename__ = "consent_records"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    registration_id: Mapped[str] = mapped_column(ForeignKey("registrations.id"), index=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id"))
    given: Mapped[bool] = mapped_column(Boolean)
    wording: Mapped[str] = mapped_column(String(2000))
    language: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrganiserSession(Base):
    """An organiser signed in to the organiser pages with their token (organiser_sessions.py).
    The browser's cookie holds the session id; only its digest is kept here."""

    __tablename__ = "organiser_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The organiser token signed in with: revoking it ends its sessions too.
    token_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


# --- people, organisations and their teams (accounts.py) --------------------------------


class Organisation(Base):
    __tablename__ = "organisations"

    # "default" is the bootstrap token's own organisation; the others are uuids.
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Person(Base):
    """Someone who signs in: one email, one password, in as many organisations as invite them."""

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    # Kept lower-cased: an address is one person however it is typed.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # argon2id (argon2-cffi), with its parameters and salt.
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The optional second step of signing in (two_step.py): a TOTP secret sealed with the
    # secret box, in use once confirmed; the digests of the unused recovery codes; the last
    # time step a code was taken at, so that a code seen once is never taken again.
    totp_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_confirmed_at: Mapped[datetime | None]
    recovery_code_digests: Mapped[list | None] = mapped_column(JSON)
    totp_last_step: Mapped[int | None]


class Member(Base):
    """A person's place in one organisation's team."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("organisation_id", "person_id"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    # The events the member is limited to; None: all of the organisation's.
    event_ids: Mapped[list | None] = mapped_column(JSON, nullable=True)
    removed_at: Mapped[datetime | None]
    # Sign-in tokens issued up to then are refused everywhere ("sign out everywhere").
    signed_out_at: Mapped[datetime | None]
    # Counts the member's changes: the other services keep the newest (member.changed).
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(Base):
    """An invitation to join a team, mailed as a link whose key is derived from its id
    (accounts.invitation_token), so that neither the mail outbox nor this table keeps it."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    event_ids: Mapped[list | None] = mapped_column(JSON, nullable=True)
    # The language of the mail (the inviter's).
    language: Mapped[str] = mapped_column(String(16))
    invited_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]


class IdentityKey(Base):
    """Registration's key for signing members' access tokens (shared/identity.py), sealed
    with the secret box; the public half is published on the bus."""

    __tablename__ = "identity_signing_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PersonalToken(Base):
    """A member's personal API token for scripts: an access token without expiry (its id is
    the token's), shown once; revoked here and, by access_token.revoked, everywhere."""

    __tablename__ = "personal_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # As the services announce it (access_token.used): to the minute, not to the request.
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class PasswordReset(Base):
    """A mailed link to choose a new password, valid an hour and once; its key is derived
    from its id like an invitation's (account_links.py)."""

    __tablename__ = "password_resets"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    # The language of the mail (the reader's, when they asked).
    language: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
