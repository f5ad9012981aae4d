"""What an attendee's name and email address must be (services/registration/attendees.py):
printable text, and an address a mail can be delivered to."""

import pytest

from services.registration.attendees import NotAcceptable, deliverable_email, printable_name


@pytest.mark.parametrize(
    "typed, kept",
    [
        ("Ada Lovelace", "Ada Lovelace"),
        ("  陳大文 ", "陳大文"),
        ("Zoë O'Brien-Łukasiewicz", "Zoë O'Brien-Łukasiewicz"),
        ("محمد بن موسى", "محمد بن موسى"),
        ("x" * 200, "x" * 200),
    ],
)
def test_a_name_in_any_script_is_kept_trimmed(typed, kept):
    assert printable_name(typed) == kept


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param(" \t ", id="blank"),
        pytest.param("x" * 201, id="201-characters"),
        pytest.param("Ada\r\nBcc: victim@example.com", id="cr-lf"),
        pytest.param("Ada\rLovelace", id="cr"),
        pytest.param("Ada\nLovelace", id="lf"),
        pytest.param("Ada\tLovelace", id="tab"),
        pytest.param("Ada\x00", id="nul"),
        pytest.param("Ada\x7f", id="delete"),
        pytest.param("Ada\x85Lovelace", id="next-line"),
        pytest.param("Ada\u200bLovelace", id="zero-width-space"),
        pytest.param("Ada\u202eecalevol", id="right-to-left-override"),
        pytest.param("Ada\ufeff", id="byte-order-mark"),
        pytest.param("Ada\u2028Lovelace", id="line-separator"),
        pytest.param("Ada\u2029Lovelace", id="paragraph-separator"),
        pytest.param("Ada\ud800", id="lone-surrogate"),
    ],
)
def test_a_name_that_is_empty_too_long_or_not_printable_is_refused(name):
    with pytest.raises(NotAcceptable):
        printable_name(name)


@pytest.mark.parametrize(
    "typed, kept",
    [
        ("ada@example.com", "ada@example.com"),
        (" ada@example.com ", "ada@example.com"),
        ("Ada.Lovelace+showcase@Example.COM", "Ada.Lovelace+showcase@example.com"),
        ("tai.man@example.hk", "tai.man@example.hk"),
        ("info@xn--fsqu00a.xn--j6w193g", "info@例子.香港"),
        ("陳大文@例子.香港", "陳大文@例子.香港"),
    ],
)
def test_an_address_is_kept_as_mail_is_sent_to_it(typed, kept):
    assert deliverable_email(typed) == kept


@pytest.mark.parametrize(
    "email",
    [
        pytest.param("a@localhost", id="localhost"),
        pytest.param("a@mail.localhost", id="under-localhost"),
        pytest.param("a@[127.0.0.1]", id="ipv4-literal"),
        pytest.param("a@[IPv6:::1]", id="ipv6-literal"),
        pytest.param("a@127.0.0.1", id="bare-ip"),
        pytest.param("a%evil.com@example.com", id="percent-relay"),
        pytest.param('"a b"@example.com', id="quoted-local-part"),
        pytest.param('"a@evil.com"@example.com', id="quoted-at-sign"),
        pytest.param("a@printer.local", id="mdns"),
        pytest.param("a@example.test", id="test"),
        pytest.param("a@example.invalid", id="invalid"),
        pytest.param("a@hidden.onion", id="onion"),
        pytest.param("a@1.0.0.127.in-addr.arpa", id="arpa"),
        pytest.param("a@intranet", id="no-dot"),
        pytest.param("Ada <ada@example.com>", id="display-name"),
        pytest.param("ada@example.com\r\nBcc: victim@example.com", id="header-injection"),
        pytest.param("ada@exa mple.com", id="space"),
        pytest.param("ada@example..com", id="empty-label"),
        pytest.param("ada", id="no-at-sign"),
        pytest.param("", id="empty"),
        pytest.param("x" * 310 + "@example.com", id="321-characters"),
    ],
)
def test_an_address_no_mail_can_be_delivered_to_is_refused(email):
    with pytest.raises(NotAcceptable):
        deliverable_email(email)
