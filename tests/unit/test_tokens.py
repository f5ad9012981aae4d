"""Ticket tokens: what a genuine token gives back, and that nothing else ever verifies."""

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.tokens import (
    BASE45_ALPHABET,
    PREFIX,
    InvalidTicketToken,
    TicketClaims,
    base45_decode,
    base45_encode,
    new_signing_key,
    sign_ticket,
    verify_ticket,
)

QR_ALPHANUMERIC_CHARACTERS = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
LONGEST_TOKEN = 190
PAYLOAD_AND_SIGNATURE_BYTES = 60 + 64
FAST = settings(max_examples=200, deadline=None)

KEY_ID, SIGNING_KEY = new_signing_key()
PUBLIC_KEYS = {KEY_ID: SIGNING_KEY.public_key()}
CLAIMS = TicketClaims(
    key_id=KEY_ID,
    event_id=uuid.UUID("0b7e2a52-5c1f-4a3e-9d55-6f1c2b0a9e11"),
    ticket_id=uuid.UUID("5f0c8f4e-3a4d-4c7b-b1f2-2d9e8c7a6b54"),
    ticket_type_id=uuid.UUID("9a1d3c5e-7f80-4b2a-8c6d-e4f3a2b1c0d9"),
    valid_from=datetime(2030, 6, 1, 9, 0, tzinfo=UTC),
    valid_until=datetime(2030, 6, 1, 18, 0, tzinfo=UTC),
)
TOKEN = sign_ticket(CLAIMS, SIGNING_KEY)
TOKEN_BYTES = base45_decode(TOKEN[len(PREFIX) :])

unix_seconds = st.integers(min_value=0, max_value=2**32 - 1).map(
    lambda seconds: datetime.fromtimestamp(seconds, UTC)
)
any_claims = st.builds(
    TicketClaims,
    key_id=st.binary(min_size=4, max_size=4).map(bytes.hex),
    event_id=st.uuids(),
    ticket_id=st.uuids(),
    ticket_type_id=st.uuids(),
    valid_from=unix_seconds,
    valid_until=unix_seconds,
)


def reencoded(token_bytes: bytes) -> str:
    return PREFIX + base45_encode(token_bytes)


# A genuine token


def test_a_signed_token_verifies_and_gives_back_its_claims():
    assert verify_ticket(TOKEN, PUBLIC_KEYS) == CLAIMS


@FAST
@given(claims=any_claims)
def test_any_claims_survive_signing_and_verifying(claims):
    key_id = claims.key_id
    _, key = new_signing_key()

    assert verify_ticket(sign_ticket(claims, key), {key_id: key.public_key()}) == claims


@FAST
@given(claims=any_claims)
def test_a_token_is_at_most_190_qr_alphanumeric_characters(claims):
    _, key = new_signing_key()
    token = sign_ticket(claims, key)

    assert len(token) <= LONGEST_TOKEN
    assert set(token) <= QR_ALPHANUMERIC_CHARACTERS


def test_the_base45_alphabet_is_the_qr_alphanumeric_character_set():
    assert set(BASE45_ALPHABET) == QR_ALPHANUMERIC_CHARACTERS
    assert len(BASE45_ALPHABET) == 45


# Base45 is RFC 9285


@pytest.mark.parametrize(
    ("data", "text"),
    [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581")],
)
def test_base45_encodes_the_rfc_9285_examples(data, text):
    assert base45_encode(data) == text


def test_base45_decodes_the_rfc_9285_example():
    assert base45_decode("QED8WEX0") == b"ietf!"


@FAST
@given(data=st.binary(max_size=200))
def test_base45_decoding_undoes_encoding(data):
    assert base45_decode(base45_encode(data)) == data


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("GGW", "a three-character group above 65535 (the RFC's own example)"),
        ("U6", "a two-character group above 255 (30 + 6 × 45 = 300)"),
        ("BB8B", "a dangling single character"),
        ("bb8", "lower case letters, which are not in the alphabet"),
    ],
)
def test_base45_rejects_malformed_text(text, why):
    with pytest.raises(ValueError):
        base45_decode(text)


# Nothing but a genuine token verifies


@FAST
@given(
    position=st.integers(min_value=0, max_value=PAYLOAD_AND_SIGNATURE_BYTES - 1),
    new_value=st.integers(min_value=0, max_value=255),
)
def test_changing_any_byte_of_payload_or_signature_never_verifies(position, new_value):
    assert len(TOKEN_BYTES) == PAYLOAD_AND_SIGNATURE_BYTES
    changed = bytearray(TOKEN_BYTES)
    if changed[position] == new_value:
        new_value ^= 0xFF
    changed[position] = new_value

    with pytest.raises(InvalidTicketToken):
        verify_ticket(reencoded(bytes(changed)), PUBLIC_KEYS)


@FAST
@given(
    position=st.integers(min_value=0, max_value=len(TOKEN) - 1),
    new_character=st.one_of(st.sampled_from(BASE45_ALPHABET), st.characters()),
)
def test_changing_any_character_of_the_token_never_verifies(position, new_character):
    # Base45 has one spelling for each byte string, so a different text is a different
    # payload or signature, or no token at all: it can never verify, not even to the same claims.
    if new_character == TOKEN[position]:
        new_character = "A" if TOKEN[position] != "A" else "B"
    changed = TOKEN[:position] + new_character + TOKEN[position + 1 :]

    with pytest.raises(InvalidTicketToken):
        verify_ticket(changed, PUBLIC_KEYS)


def test_a_token_signed_by_another_key_with_the_same_key_id_fails():
    _, impostor_key = new_signing_key()
    forged = sign_ticket(CLAIMS, impostor_key)

    with pytest.raises(InvalidTicketToken, match="bad signature"):
        verify_ticket(forged, PUBLIC_KEYS)


def test_a_token_signed_by_an_unknown_key_id_fails():
    other_key_id, other_key = new_signing_key()
    assert other_key_id != KEY_ID

    with pytest.raises(InvalidTicketToken, match="unknown key"):
        verify_ticket(TOKEN, {other_key_id: other_key.public_key()})
    with pytest.raises(InvalidTicketToken, match="unknown key"):
        verify_ticket(TOKEN, {})


def test_a_truncated_or_extended_token_fails():
    for wrong_length in (TOKEN_BYTES[:-1], TOKEN_BYTES + b"\x00", b""):
        with pytest.raises(InvalidTicketToken):
            verify_ticket(reencoded(wrong_length), PUBLIC_KEYS)


def test_a_token_that_is_not_text_fails():
    for not_text in (TOKEN.encode(), None, 42):
        with pytest.raises(InvalidTicketToken):
            verify_ticket(not_text, PUBLIC_KEYS)


token_sized_bytes = st.binary(
    min_size=PAYLOAD_AND_SIGNATURE_BYTES, max_size=PAYLOAD_AND_SIGNATURE_BYTES
)


@FAST
@given(
    garbage=st.one_of(
        st.text(),
        st.text().map(lambda text: PREFIX + text),
        st.text(alphabet=BASE45_ALPHABET).map(lambda text: PREFIX + text),
        token_sized_bytes.map(reencoded),
        token_sized_bytes.map(lambda random: bytes.fromhex(KEY_ID) + random[4:]).map(reencoded),
    )
)
def test_garbage_raises_nothing_but_invalid_ticket_token(garbage):
    with pytest.raises(InvalidTicketToken):
        verify_ticket(garbage, PUBLIC_KEYS)
