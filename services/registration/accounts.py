"""Organisations and their teams: who may sign in, with which role, for which events.

An instance administrator (the bootstrap token) creates an organisation and invites its
first owner; owners and managers invite the rest. An invitation is a mailed link, valid for
7 days and once; accepting it sets the person's name and password (argon2id) and makes them
a member. Signing in gives an access token signed with registration's identity key, which
every service verifies (shared/identity.py); each change of a membership is published as
member.changed so the other services apply it to the tokens they accept.

Roles (DESIGN.md): owner (everything, the team included), manager (everything but owners),
door, viewer. Objects of another organisation answer as missing ones.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from services.registration import two_step
from services.registration.account_links import (
    INVITATION,
    PASSWORD_RESET,
    link_token,
    row_id_of,
)
from services.registration.mail.outbox import queue_invitation_mail, queue_password_reset_mail
from services.registration.models import (
    Event,
    IdentityKey,
    Invitation,
    Member,
    Organisation,
    PasswordReset,
    Person,
    PersonalToken,
    tables,
)
from shared.auth import MANAGER, MEMBER_ROLES, ORGANISER, OWNER, Principal
from shared.db import Transaction
from shared.errors import N_, Conflict, Forbidden, Gone, InvalidRequest, NotFound
from shared.identity import (
    PERSONAL,
    SESSION,
    AccessClaims,
    new_identity_key,
    new_token_id,
    public_key_text,
    read_access_token,
    record_identity_key,
    record_member,
    record_revoked_token,
    sign_access_token,
)
from shared.secret_box import SecretBox

INVITATION_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=1)
# A working day at the venue; the next one starts with signing in again.
SIGN_IN_LIFETIME = timedelta(hours=12)
PASSWORD_LENGTH = (10, 200)

_hasher = PasswordHasher()
# Verified against when no one has the address, so that a wrong address costs as long as a
# wrong password and answers tell nobody which addresses have accounts.
_NOBODY = _hasher.hash("not anyone's password")


@dataclass(frozen=True)
class TeamMember:
    """A member as the team page and GET /members show them."""

    id: str
    email: str
    name: str
    role: str
    event_ids: list[str] | None
    joined_at: datetime


# Why a sign-in was refused.
CREDENTIALS, CODE_MISSING, CODE_WRONG = "credentials", "code_missing", "code_wrong"


@dataclass(frozen=True)
class SignInRefused:
    reason: str


@dataclass(frozen=True)
class SignedIn:
    token: str
    expires_at: datetime
    member_id: str
    organisation_id: str


# --- organisations and invitations --------------------------------------------------------


def create_organisation(
    tx: Transaction, instance_admin: Principal, name: str, owner: dict, language: str
) -> tuple[Organisation, Invitation]:
    """A new organisation, its first owner invited by mail."""
    if instance_admin.role != ORGANISER:
        raise Forbidden(N_("Only the instance's administrator creates organisations."))
    organisation = Organisation(name=name)
    tx.session.add(organisation)
    tx.session.flush()
    invitation = _invite(tx, organisation, owner["email"], OWNER, None, language, None)
    return organisation, invitation


def invite(
    tx: Transaction,
    inviter: Principal,
    email: str,
    role: str,
    event_ids: list[str] | None,
    language: str,
) -> Invitation:
    """Invite someone into the inviter's organisation; a manager invites anyone but owners."""
    _may_give(inviter, role)
    organisation = tx.session.get(Organisation, inviter.organisation_id)
    if organisation is None:
        raise NotFound(N_("No such organisation."))
    if event_ids is not None:
        _check_events(tx.session, organisation.id, event_ids)
    member = _active_member_by_email(tx.session, organisation.id, email)
    if member is not None:
        raise Conflict(N_("This address already belongs to a member of the team."))
    return _invite(tx, organisation, email, role, event_ids, language, _name_of(tx, inviter))


def _invite(tx, organisation, email, role, event_ids, language, invited_by) -> Invitation:
    now = datetime.now(UTC)
    invitation = Invitation(
        organisation_id=organisation.id,
        email=email.strip().lower(),
        role=role,
        event_ids=sorted(event_ids) if event_ids is not None else None,
        language=language,
        invited_by=invited_by,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    tx.session.add(invitation)
    tx.session.flush()
    queue_invitation_mail(tx, invitation)
    return invitation


def invitation_link_token(box: SecretBox, invitation: Invitation) -> str:
    return link_token(box, INVITATION, invitation.id)


def open_invitation(session: Session, box: SecretBox, token: str, now: datetime | None = None):
    """The invitation a link's token opens, while it may still be accepted."""
    invitation_id = row_id_of(box, INVITATION, token)
    invitation = session.get(Invitation, invitation_id) if invitation_id else None
    if invitation is None:
        raise NotFound(N_("This invitation link opens nothing."))
    if invitation.accepted_at is not None or invitation.withdrawn_at is not None:
        raise Gone(N_("This invitation has been used already."))
    if invitation.expires_at <= (now or datetime.now(UTC)):
        raise Gone(N_("This invitation has expired; ask for a new one."))
    return invitation


def accept_invitation(
    tx: Transaction, box: SecretBox, token: str, name: str, password: str
) -> TeamMember:
    """Join the team the link invites to: a new person sets their name and password; someone
    who already has an account confirms it with their password."""
    invitation = open_invitation(tx.session, box, token)
    tx.session.refresh(invitation, with_for_update=True)
    if invitation.accepted_at is not None:
        raise Gone(N_("This invitation has been used already."))
    person = tx.session.scalar(select(Person).where(Person.email == invitation.email))
    if person is None:
        _check_password(password)
        person = Person(email=invitation.email, name=name, password_hash=_hasher.hash(password))
        tx.session.add(person)
        tx.session.flush()
    elif not _password_matches(person.password_hash, password):
        raise InvalidRequest(
            N_("This address has an account: enter its password to join."),
            errors={"json": {"password": [N_("Not this account's password.")]}},
        )
    member = tx.session.scalar(
        select(Member).where(
            Member.organisation_id == invitation.organisation_id, Member.person_id == person.id
        )
    )
    now = datetime.now(UTC)
    if member is None:
        member = Member(
            organisation_id=invitation.organisation_id,
            person_id=person.id,
            role=invitation.role,
            event_ids=invitation.event_ids,
            # Version 1 once announced.
            version=0,
        )
        tx.session.add(member)
    else:  # a member removed before, invited again
        member.role, member.event_ids, member.removed_at = (
            invitation.role,
            invitation.event_ids,
            None,
        )
    invitation.accepted_at = now
    _changed(tx, member)
    return _team_member(member, person)


# --- signing in ---------------------------------------------------------------------------


def sign_in(
    tx: Transaction,
    email: str,
    password: str,
    organisation_id: str | None = None,
    code: str | None = None,
) -> SignedIn | SignInRefused:
    """An access token for the person with this email and password (and, when they turned
    two-step sign-in on, a code: two_step.py), as a member of `organisation_id` (or of the
    organisation they joined first); else why not."""
    person = tx.session.scalar(select(Person).where(Person.email == email.strip().lower()))
    if not _password_matches(person.password_hash if person else _NOBODY, password) or not person:
        return SignInRefused(CREDENTIALS)
    query = select(Member).where(Member.person_id == person.id, Member.removed_at.is_(None))
    if organisation_id:
        query = query.where(Member.organisation_id == organisation_id)
    member = tx.session.scalars(query.order_by(Member.created_at)).first()
    if member is None:
        return SignInRefused(CREDENTIALS)
    if two_step.in_use(person) and not two_step.passes(tx, person, code):
        return SignInRefused(CODE_MISSING if not code else CODE_WRONG)
    if _hasher.check_needs_rehash(person.password_hash):
        person.password_hash = _hasher.hash(password)
    now = datetime.now(UTC)
    claims, token = _signed_token(tx, member, now, now + SIGN_IN_LIFETIME, SESSION)
    return SignedIn(token, claims.expires_at, member.id, member.organisation_id)


def _signed_token(
    tx: Transaction, member: Member, now: datetime, expires_at: datetime | None, kind: str
) -> tuple[AccessClaims, str]:
    """An access token of `kind` for the member as they are now, signed with the identity key."""
    claims = AccessClaims(
        token_id=new_token_id(),
        member_id=member.id,
        organisation_id=member.organisation_id,
        role=member.role,
        event_ids=tuple(member.event_ids) if member.event_ids is not None else None,
        issued_at=now,
        expires_at=expires_at,
        kind=kind,
    )
    key_id, private_key = _identity_key(tx)
    return claims, sign_access_token(key_id, private_key, claims)


def sign_out(tx: Transaction, principal: Principal) -> None:
    """This sign-in's token is refused from now on, here at once and elsewhere within
    seconds (access_token.revoked)."""
    _own_member(tx.session, principal)
    revoked = {"token_id": principal.subject, "member_id": principal.member_id}
    record_revoked_token(tx.session, tables.identity, revoked)
    tx.publish("access_token.revoked", revoked)


def sign_out_token(tx: Transaction, token: str) -> None:
    """Sign out the member this access token stands for, if it still stands for one."""
    principal = read_access_token(tx.session, tables.identity, token)
    if principal is not None and principal.member_id is not None:
        sign_out(tx, principal)


def sign_out_everywhere(tx: Transaction, principal: Principal) -> None:
    """Every sign-in of this member ends, in every service, within seconds."""
    member = _own_member(tx.session, principal)
    member.signed_out_at = datetime.now(UTC)
    _changed(tx, member)


def publish_identity_key(tx: Transaction) -> str:
    """Publish the identity key's public half again (made now if there is none); its id.
    The worker does it at start, so that the other services know the key before anyone signs
    in, and hourly, so that a service whose database is new learns it too."""
    key_id, private_key = _identity_key(tx)
    tx.publish("identity.key_published", _published(key_id, private_key))
    return key_id


def _identity_key(tx: Transaction) -> tuple[str, Ed25519PrivateKey]:
    """The newest identity key; the first sign-in makes one and publishes its public half."""
    newest = tx.session.scalars(select(IdentityKey).order_by(IdentityKey.created_at.desc())).first()
    if newest is not None:
        der = tx.secret_box.open(newest.private_key_sealed, _sealed_as(newest.key_id))
        return newest.key_id, load_der_private_key(der, password=None)
    key_id, private_key = new_identity_key()
    der = private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    tx.session.add(
        IdentityKey(key_id=key_id, private_key_sealed=tx.secret_box.seal(der, _sealed_as(key_id)))
    )
    published = _published(key_id, private_key)
    record_identity_key(tx.session, tables.identity, published)
    tx.publish("identity.key_published", published)
    return key_id, private_key


def _published(key_id: str, private_key: Ed25519PrivateKey) -> dict:
    return {"key_id": key_id, "public_key": public_key_text(private_key)}


def _sealed_as(key_id: str) -> str:
    return f"registration identity key {key_id}"


# --- a forgotten password -----------------------------------------------------------------


def request_password_reset(tx: Transaction, email: str, language: str) -> None:
    """Mail a link to choose a new password, if someone has this address; the answer is the
    same either way, so that it tells nobody which addresses have accounts."""
    person = tx.session.scalar(select(Person).where(Person.email == email.strip().lower()))
    if person is None:
        return
    now = datetime.now(UTC)
    reset = PasswordReset(
        person_id=person.id, language=language, created_at=now, expires_at=now + RESET_LIFETIME
    )
    tx.session.add(reset)
    tx.session.flush()
    queue_password_reset_mail(tx, reset, person.email)


def open_password_reset(
    session: Session, box: SecretBox, token: str, now: datetime | None = None
) -> PasswordReset:
    """The reset a link's token opens, while it may still be used."""
    reset_id = row_id_of(box, PASSWORD_RESET, token)
    reset = session.get(PasswordReset, reset_id) if reset_id else None
    if reset is None:
        raise NotFound(N_("This link opens nothing."))
    if reset.used_at is not None:
        raise Gone(N_("This link has been used already; ask for a new one."))
    if reset.expires_at <= (now or datetime.now(UTC)):
        raise Gone(N_("This link has expired; ask for a new one."))
    return reset


def reset_password(tx: Transaction, box: SecretBox, token: str, password: str) -> str:
    """Choose the new password; every sign-in of the person ends, in every organisation and
    service. The person's email, to sign in with."""
    reset = open_password_reset(tx.session, box, token)
    tx.session.refresh(reset, with_for_update=True)
    if reset.used_at is not None:
        raise Gone(N_("This link has been used already; ask for a new one."))
    _check_password(password)
    person = tx.session.get(Person, reset.person_id)
    person.password_hash = _hasher.hash(password)
    now = datetime.now(UTC)
    reset.used_at = now
    members = tx.session.scalars(
        select(Member).where(Member.person_id == person.id, Member.removed_at.is_(None))
    )
    for member in members:
        member.signed_out_at = now
        _changed(tx, member)
    return person.email


# --- two-step sign-in ---------------------------------------------------------------------


def start_two_step(tx: Transaction, principal: Principal) -> str:
    return two_step.start(tx, _own_person(tx.session, principal))


def confirm_two_step(tx: Transaction, principal: Principal, code: str) -> list[str]:
    return two_step.confirm(tx, _own_person(tx.session, principal), code)


def turn_off_two_step(tx: Transaction, principal: Principal, code: str) -> None:
    two_step.turn_off(tx, _own_person(tx.session, principal), code)


def pending_two_step(session: Session, box: SecretBox, principal: Principal) -> str | None:
    return two_step.pending_uri(box, _own_person(session, principal))


def uses_two_step(session: Session, principal: Principal) -> bool:
    return two_step.in_use(_own_person(session, principal))


def _own_person(session: Session, principal: Principal) -> Person:
    return session.get(Person, _own_member(session, principal).person_id)


# --- personal API tokens ------------------------------------------------------------------


@dataclass(frozen=True)
class NewPersonalToken:
    """A personal token as it is made: the only time its secret is shown."""

    id: str
    name: str
    token: str
    created_at: datetime


def create_personal_token(tx: Transaction, principal: Principal, name: str) -> NewPersonalToken:
    """A token for the member's scripts, with the member's role wherever they are changed."""
    member = _own_member(tx.session, principal)
    now = datetime.now(UTC)
    claims, token = _signed_token(tx, member, now, None, PERSONAL)
    tx.session.add(
        PersonalToken(id=claims.token_id, member_id=member.id, name=name, created_at=now)
    )
    return NewPersonalToken(claims.token_id, name, token, now)


def personal_tokens(session: Session, principal: Principal) -> list[PersonalToken]:
    return list(
        session.scalars(
            select(PersonalToken)
            .where(PersonalToken.member_id == principal.member_id)
            .where(PersonalToken.revoked_at.is_(None))
            .order_by(PersonalToken.created_at)
        )
    )


def record_token_use(tx: Transaction, token_id: str, used_at: datetime) -> None:
    """A service admitted the token at `used_at`; events may come late or out of order."""
    tx.session.execute(
        update(PersonalToken)
        .where(PersonalToken.id == token_id)
        .where(or_(PersonalToken.last_used_at.is_(None), PersonalToken.last_used_at < used_at))
        .values(last_used_at=used_at)
    )


def revoke_personal_token(tx: Transaction, principal: Principal, token_id: str) -> None:
    token = tx.session.get(PersonalToken, token_id)
    if token is None or token.member_id != principal.member_id or token.revoked_at is not None:
        raise NotFound(N_("No such token."))
    token.revoked_at = datetime.now(UTC)
    revoked = {"token_id": token.id, "member_id": token.member_id}
    record_revoked_token(tx.session, tables.identity, revoked)
    tx.publish("access_token.revoked", revoked)


# --- the team -----------------------------------------------------------------------------


def team(session: Session, principal: Principal) -> list[TeamMember]:
    rows = session.execute(
        select(Member, Person)
        .join(Person, Person.id == Member.person_id)
        .where(Member.organisation_id == principal.organisation_id, Member.removed_at.is_(None))
        .order_by(Member.created_at)
    ).all()
    return [_team_member(member, person) for member, person in rows]


def change_member(
    tx: Transaction,
    principal: Principal,
    member_id: str,
    role: str,
    event_ids: list[str] | None = None,
    limit_events: bool = False,
) -> TeamMember:
    """Give a member another role (and, when `limit_events`, other events); a manager changes
    no owner and makes none; the last owner stays an owner."""
    member, person = _team_row(tx.session, principal, member_id)
    _may_give(principal, member.role)
    _may_give(principal, role)
    if member.role == OWNER and role != OWNER:
        _keep_an_owner(tx.session, member)
    member.role = role
    if limit_events:
        if event_ids is not None:
            _check_events(tx.session, member.organisation_id, event_ids)
        member.event_ids = sorted(event_ids) if event_ids is not None else None
    _changed(tx, member)
    return _team_member(member, person)


def remove_member(tx: Transaction, principal: Principal, member_id: str) -> None:
    """Take someone off the team: their tokens are refused by every service within seconds."""
    member, _person = _team_row(tx.session, principal, member_id)
    _may_give(principal, member.role)
    if member.role == OWNER:
        _keep_an_owner(tx.session, member)
    member.removed_at = datetime.now(UTC)
    _changed(tx, member)


def _changed(tx: Transaction, member: Member) -> None:
    """A membership changed: its next version goes to the other services as member.changed,
    and to registration's own copy."""
    member.version += 1
    tx.session.flush()
    state = {
        "member_id": member.id,
        "organisation_id": member.organisation_id,
        "role": member.role,
        "event_ids": member.event_ids,
        "removed": member.removed_at is not None,
        "signed_out_at": member.signed_out_at,
        "version": member.version,
    }
    record_member(tx.session, tables.identity, state)
    tx.publish("member.changed", state)


# --- checks -------------------------------------------------------------------------------


def _may_give(principal: Principal, role: str) -> None:
    if role not in MEMBER_ROLES:
        raise InvalidRequest(
            N_("Unknown role."),
            errors={"json": {"role": [N_("Choose owner, manager, door or viewer.")]}},
        )
    if principal.role not in (ORGANISER, OWNER, MANAGER):
        raise Forbidden(N_("Only owners and managers look after the team."))
    if role == OWNER and principal.role == MANAGER:
        raise Forbidden(N_("Only an owner invites, changes or removes owners."))


def _keep_an_owner(session: Session, leaving: Member) -> None:
    owners = session.scalars(
        select(Member.id).where(
            Member.organisation_id == leaving.organisation_id,
            Member.role == OWNER,
            Member.removed_at.is_(None),
            Member.id != leaving.id,
        )
    ).first()
    if owners is None:
        raise Conflict(N_("A team keeps at least one owner: make someone else owner first."))


def _check_events(session: Session, organisation_id: str, event_ids: list[str]) -> None:
    found = set(
        session.scalars(
            select(Event.id).where(
                Event.id.in_(event_ids), Event.organisation_id == organisation_id
            )
        )
    )
    if found != set(event_ids):
        raise InvalidRequest(
            N_("Some of these events are not the organisation's."),
            errors={"json": {"event_ids": [N_("Not an event of this organisation.")]}},
        )


def _check_password(password: str) -> None:
    shortest, longest = PASSWORD_LENGTH
    if not shortest <= len(password) <= longest:
        raise InvalidRequest(
            N_("Choose a password of 10 to 200 characters."),
            errors={"json": {"password": [N_("Use 10 to 200 characters.")]}},
        )


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _team_row(session: Session, principal: Principal, member_id: str):
    row = session.execute(
        select(Member, Person)
        .join(Person, Person.id == Member.person_id)
        .where(
            Member.id == member_id,
            Member.organisation_id == principal.organisation_id,
            Member.removed_at.is_(None),
        )
        .with_for_update(of=Member)
    ).first()
    if row is None:
        raise NotFound(N_("No such member."))
    return row


def _own_member(session: Session, principal: Principal) -> Member:
    member = session.get(Member, principal.member_id) if principal.member_id else None
    if member is None:
        raise NotFound(N_("No such member."))
    return member


def _active_member_by_email(session: Session, organisation_id: str, email: str):
    return session.scalar(
        select(Member)
        .join(Person, Person.id == Member.person_id)
        .where(
            Member.organisation_id == organisation_id,
            Person.email == email.strip().lower(),
            Member.removed_at.is_(None),
        )
    )


def _name_of(tx: Transaction, principal: Principal) -> str | None:
    if principal.member_id is None:
        return None
    member = tx.session.get(Member, principal.member_id)
    person = tx.session.get(Person, member.person_id) if member else None
    return person.name if person else None


def _team_member(member: Member, person: Person) -> TeamMember:
    return TeamMember(
        id=member.id,
        email=person.email,
        name=person.name,
        role=member.role,
        event_ids=member.event_ids,
        joined_at=member.created_at,
    )
