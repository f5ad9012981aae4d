"""The mails an attendee gets as their registration's status changes (status_mails.py says
which), in the language they registered in, with the organiser's texts (event title, venue,
ticket type) in that language, and their manage link (link_mail.py makes the message).

Each kind of mail is a subject, a heading and a body, whole sentences each so that every
language words them its own way; what they share (the event's facts, the link, the footer)
is written once here.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta, get_timezone_name

from services.registration.mail import status_mails
from services.registration.mail.link_mail import (
    Letterhead,
    LinkMailText,
    link_mail,
    readable_time,
    translations,
)
from services.registration.wording import N_
from shared.languages import ENGLISH, locale_from_tag


@dataclass(frozen=True)
class Wording:
    subject: str
    heading: str
    body: str


_TICKET_FOLLOWS = N_(
    "Your place is confirmed. Your ticket, with its QR code, follows in a separate mail."
)

# Each text is formatted with the event's title (%(event)s) and, where it says so, the
# waitlist position, the claim deadline or the claim window.
WORDINGS = {
    status_mails.RECEIVED: Wording(
        N_("Registration received: %(event)s"),
        N_("We have your registration for %(event)s."),
        N_(
            "The organiser approves each registration for this ticket type, so you have no "
            "place yet. We will write to you again as soon as they decide."
        ),
    ),
    status_mails.APPROVED: Wording(
        N_("You are in: %(event)s"),
        N_("The organiser approved your registration for %(event)s."),
        _TICKET_FOLLOWS,
    ),
    status_mails.REJECTED_MAIL: Wording(
        N_("Registration not approved: %(event)s"),
        N_("The organiser did not approve your registration for %(event)s."),
        N_("You have no place at this event, and nothing more is asked of you."),
    ),
    status_mails.WAITLISTED_MAIL: Wording(
        N_("On the waiting list: %(event)s"),
        N_("You are number %(position)s on the waiting list for %(event)s."),
        N_(
            "You have no place yet. When one comes free and you are first in line, your "
            "place is confirmed at once and your ticket is mailed to you."
        ),
    ),
    status_mails.PLACE_OFFERED: Wording(
        N_("A place is offered to you: %(event)s"),
        N_("A place at %(event)s came free, and it is offered to you."),
        N_(
            "Claim it on your registration's page before %(deadline)s, or it goes to the "
            "next person waiting."
        ),
    ),
    status_mails.OFFER_LAPSED: Wording(
        N_("Offer expired: %(event)s"),
        N_("The place offered to you at %(event)s was not claimed in time."),
        N_(
            "It has gone to the next person waiting, and you are no longer on the waiting "
            "list. You may register again while places are left."
        ),
    ),
    status_mails.PLACE_CLAIMED: Wording(
        N_("Place claimed: %(event)s"),
        N_("You claimed your place at %(event)s."),
        _TICKET_FOLLOWS,
    ),
    status_mails.PLACE_GIVEN: Wording(
        N_("A place is yours: %(event)s"),
        N_("A place at %(event)s came free, and it is yours."),
        _TICKET_FOLLOWS,
    ),
    status_mails.CANCELLED_BY_ATTENDEE: Wording(
        N_("Registration cancelled: %(event)s"),
        N_("Your registration for %(event)s is cancelled, as you asked."),
        N_(
            "Your ticket, if you had one, no longer opens the door, and your place goes to "
            "the next person on the waiting list."
        ),
    ),
    status_mails.CANCELLED_BY_ORGANISER: Wording(
        N_("Registration cancelled: %(event)s"),
        N_("The organiser cancelled your registration for %(event)s."),
        N_(
            "Your ticket, if you had one, no longer opens the door. If you think this is a "
            "mistake, contact the organiser."
        ),
    ),
    status_mails.EVENT_CANCELLED: Wording(
        N_("Event cancelled: %(event)s"),
        N_("%(event)s is cancelled."),
        N_(
            "The organiser cancelled the event, and with it your registration: your ticket, "
            "if you had one, no longer opens the door."
        ),
    ),
}
# When the event gives a waitlisted attendee a while to claim a place (replaces the body).
_WAITLISTED_WITH_CLAIM_WINDOW = N_(
    "You have no place yet. When one comes free and you are first in line, we mail you at "
    "once: you then have %(window)s to claim it on your registration's page, or it goes to "
    "the next person."
)


@dataclass(frozen=True)
class AttendeeLetter:
    """What a status mail says, read from registration's tables as the mail is sent; the
    organiser's texts already in the attendee's language."""

    recipient: str
    language: str
    event_title: str
    event_starts_at: datetime
    event_timezone: str
    venue: str
    ticket_type_name: str
    # The attendee's manage page; None when their token is not at hand (manage_links.py).
    manage_url: str | None
    waitlist_position: int | None = None
    offer_expires_at: datetime | None = None
    waitlist_claim_minutes: int | None = None
    rejection_reason: str | None = None


def attendee_mail(kind: str, letter: AttendeeLetter, letterhead: Letterhead) -> EmailMessage:
    return link_mail(letter.recipient, attendee_mail_text(kind, letter), letterhead)


def attendee_mail_text(kind: str, letter: AttendeeLetter) -> LinkMailText:
    """A WORDINGS kind missing fails the mail, which is retried: a newer worker (a deploy
    under way) may know it."""
    locale = locale_from_tag(letter.language) or ENGLISH
    gettext = translations(locale).gettext
    wording = WORDINGS[kind]
    zone = ZoneInfo(letter.event_timezone)

    def in_event_time(moment: datetime) -> str:
        # "June 14, 2030, 6:05 PM (Hong Kong Standard Time)": the zone named, since the reader
        # may be elsewhere, as it is at that moment (Babel's zone "location" names say
        # "summer time" in every zone in zh_Hant_HK, even in December in Hong Kong).
        name = get_timezone_name(moment.astimezone(zone), "long", locale=locale)
        return f"{readable_time(moment, locale, zone)} ({name})"

    values = {"event": letter.event_title, "position": letter.waitlist_position or ""}
    if letter.offer_expires_at is not None:
        values["deadline"] = in_event_time(letter.offer_expires_at)
    body = gettext(wording.body)
    if kind == status_mails.WAITLISTED_MAIL and letter.waitlist_claim_minutes:
        window = timedelta(minutes=letter.waitlist_claim_minutes)
        values["window"] = format_timedelta(window, threshold=2, locale=locale)
        body = gettext(_WAITLISTED_WITH_CLAIM_WINDOW)
    more = ()
    if kind == status_mails.REJECTED_MAIL and letter.rejection_reason:
        more = (gettext("The organiser wrote: %(reason)s") % {"reason": letter.rejection_reason},)
    facts = [
        (gettext("Event"), letter.event_title),
        (gettext("When"), in_event_time(letter.event_starts_at)),
    ]
    if letter.venue:
        facts.append((gettext("Venue"), letter.venue))
    facts.append((gettext("Ticket type"), letter.ticket_type_name))
    offered = kind == status_mails.PLACE_OFFERED
    if letter.manage_url is None:
        open_link = gettext(
            "To see, change or cancel your registration, open the private link you were "
            "given when you registered."
        )
    elif offered:
        open_link = gettext("Claim your place on your registration's page:")
    else:
        open_link = gettext("Your registration's page, where you can see, change or cancel it:")
    return LinkMailText(
        lang=locale.replace("_", "-"),
        subject=gettext(wording.subject) % values,
        heading=gettext(wording.heading) % values,
        body=body % values,
        more=more,
        facts=tuple(facts),
        open_link=open_link,
        button=gettext("Claim my place") if offered else gettext("Open my registration"),
        link_url=letter.manage_url,
        why=gettext(
            "You receive this mail because this address was registered for %(event)s on "
            "Loopgate: it tells you what happens to that registration."
        )
        % values,
    )
