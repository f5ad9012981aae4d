"""The invitation mail: rendered from a real registration database in each language, with a
link that opens the invitation; nothing once the invitation can no longer be accepted;
queued only with the transaction that makes it; sent once through the real mail relay into
a mailbox folder."""

import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from services.registration.account_links import INVITATION, row_id_of
from services.registration.mail import invitation_mail
from services.registration.mail import link_mail as mail_text
from services.registration.mail.outbox import INVITATION_MAIL, queue_invitation_mail
from services.registration.mail.relay import MailRelay, render_invitation_mail
from services.registration.models import Base, Invitation, Organisation, mail_outbox
from shared.auth import DOOR, MANAGER, MEMBER_ROLES, OWNER, VIEWER
from shared.mail.delivery import MailboxFolder
from shared.mail.outbox import SENT

pytest_plugins = ["tests.unit.domain_fixtures"]

ORGANISATION = 'Harbour Lights & <Friends> "HK"'
EXPIRES_AT = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
LETTERHEAD = mail_text.Letterhead(
    sender="Loopgate <team@example.org>", public_url="https://tickets.example.org"
)


@pytest.fixture
def runtime(registration_runtime):
    # The team tables, until registration's migration makes them (create_all skips tables
    # that exist).
    Base.metadata.create_all(registration_runtime.engine)
    return registration_runtime


def invited(runtime, queue: bool = True, **fields) -> Invitation:
    """An invitation to ORGANISATION's team, with its mail queued in the same transaction."""
    uow = runtime.unit_of_work()
    with uow:
        organisation = Organisation(name=ORGANISATION)
        uow.session.add(organisation)
        uow.session.flush()
        invitation = Invitation(
            organisation_id=organisation.id,
            **{
                "email": "grace@example.org",
                "role": MANAGER,
                "language": "en",
                "invited_by": "Ada Lovelace",
                "expires_at": EXPIRES_AT,
                **fields,
            },
        )
        uow.session.add(invitation)
        uow.session.flush()
        if queue:
            queue_invitation_mail(uow, invitation)
        uow.commit()
    return invitation


def queued_mail(runtime) -> list:
    with runtime.session_factory() as session:
        return list(session.execute(select(mail_outbox)))


def rendered(runtime, invitation: Invitation):
    (mail,) = queued_mail(runtime)
    assert (mail.kind, mail.about_id, mail.recipient) == (
        INVITATION_MAIL,
        invitation.id,
        invitation.email,
    )
    return render_invitation_mail(LETTERHEAD, runtime.unit_of_work(), mail)


def parts(message) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.get_payload()
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    return plain.get_content(), html.get_content()


def the_token_in(runtime, plain: str, html: str) -> str:
    """The invitation link's token, checked to be the same link in both parts."""
    (link,) = set(re.findall(r"https?://\S+", plain))
    assert f'href="{link}"' in html
    path = urlsplit(link).path
    assert re.fullmatch(r"/organiser/invitations/[^/]+", path), path
    return path.rpartition("/")[2]


@pytest.mark.parametrize(
    ("language", "role", "content_language"),
    [("en", OWNER, "en"), ("zh_Hant_HK", DOOR, "zh-Hant-HK"), ("zh_Hans_CN", VIEWER, "zh-Hans-CN")],
)
def test_the_invitation_mail_in_the_invitations_language(runtime, language, role, content_language):
    invitation = invited(runtime, language=language, role=role)

    message = rendered(runtime, invitation)

    gettext = mail_text.translations(language).gettext
    assert message["Subject"] == gettext("You are invited to join %(organisation)s on Loopgate") % {
        "organisation": ORGANISATION
    }
    assert message["From"] == LETTERHEAD.sender
    assert message["To"] == "grace@example.org"
    assert message["Content-Language"] == content_language
    plain, html = parts(message)
    role_words = gettext(invitation_mail.ROLE_SENTENCES[role])
    expires = mail_text.readable_utc_time(EXPIRES_AT, language)
    for text in (ORGANISATION, "Ada Lovelace", role_words, expires):
        assert text in plain
    token = the_token_in(runtime, plain, html)
    assert row_id_of(runtime.secret_box, INVITATION, token) == invitation.id
    # Everything in the HTML part is escaped; the link is in both parts.
    assert "Harbour Lights &amp; &lt;Friends&gt; &#34;HK&#34;" in html
    assert "<Friends>" not in html
    assert f'<html lang="{content_language}">' in html


def test_the_date_is_written_in_the_readers_language():
    moment = datetime(2030, 6, 14, 18, 5, tzinfo=UTC)
    assert mail_text.readable_utc_time(moment, "en") == "June 14, 2030, 6:05\u202fPM"
    assert mail_text.readable_utc_time(moment, "zh_Hant_HK") == "2030年6月14日 下午6:05"
    assert mail_text.readable_utc_time(moment, "zh_Hans_CN") == "2030年6月14日 18:05"


def test_every_role_is_put_in_plain_words():
    assert set(invitation_mail.ROLE_SENTENCES) == set(MEMBER_ROLES)


def test_an_invitation_from_no_one_in_particular_says_so(runtime):
    invitation = invited(runtime, invited_by=None)

    plain, _html = parts(rendered(runtime, invitation))

    assert plain.startswith(f"You are invited to join {ORGANISATION} on Loopgate.")
    assert "None" not in plain


@pytest.mark.parametrize(
    "closed",
    [
        {"accepted_at": datetime.now(UTC)},
        {"withdrawn_at": datetime.now(UTC)},
        {"expires_at": datetime.now(UTC) - timedelta(seconds=1)},
    ],
    ids=["accepted", "withdrawn", "expired"],
)
def test_an_invitation_that_can_no_longer_be_accepted_gets_no_mail(runtime, closed):
    invitation = invited(runtime, **closed)

    assert rendered(runtime, invitation) is None


def test_a_missing_invitation_gets_no_mail(runtime):
    invitation = invited(runtime)
    with runtime.session_factory() as session:
        session.delete(session.get(Invitation, invitation.id))
        session.commit()

    assert rendered(runtime, invitation) is None


def test_an_invitation_mail_is_queued_only_with_its_transaction(runtime):
    invitation = invited(runtime, queue=False)

    uow = runtime.unit_of_work()
    with uow:
        queue_invitation_mail(uow, invitation)  # and no commit: rolled back

    assert queued_mail(runtime) == []


def test_the_relay_sends_the_invitation_mail_into_the_mailbox_once(runtime, tmp_path):
    invitation = invited(runtime)
    mailbox = MailboxFolder(tmp_path / "mailbox")
    relay = MailRelay(runtime, sender=mailbox)

    assert relay.send_due() == 1
    assert relay.send_due() == 0

    (eml,) = mailbox.path.glob("*.eml")
    message = BytesParser(policy=policy.default).parse(eml.open("rb"))
    assert message["To"] == invitation.email
    (mail,) = queued_mail(runtime)
    assert mail.status == SENT
    assert eml.stem == str(mail.id)
    plain, html = parts(message)
    token = the_token_in(runtime, plain, html)
    assert row_id_of(runtime.secret_box, INVITATION, token) == invitation.id
