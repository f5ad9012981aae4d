"""Ticket QR codes, read back by a real decoder (zxing-cpp) from the real PNG and SVG."""

import io
import uuid
from datetime import UTC, datetime

import pytest
import zxingcpp
from PIL import Image

from services.ticketing.qr_codes import qr_images, qr_version
from shared.tokens import TicketClaims, new_signing_key, sign_ticket, verify_ticket

LARGEST_QR_VERSION = 8
QUIET_ZONE_MODULES = 4
WHITE = (255, 255, 255)

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


def modules_across(version: int) -> int:
    """Width of a QR symbol in modules, quiet zone included."""
    return 17 + 4 * version + 2 * QUIET_ZONE_MODULES


def the_only_qr_code_in(image: Image.Image) -> zxingcpp.Barcode:
    barcodes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(barcodes) == 1, f"expected one QR code, found {len(barcodes)}"
    return barcodes[0]


def png_image(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def test_the_png_decodes_to_the_token_and_its_claims_verify():
    qr_code = the_only_qr_code_in(png_image(qr_images(TOKEN).png))

    assert qr_code.text == TOKEN
    assert verify_ticket(qr_code.text, PUBLIC_KEYS) == CLAIMS


def test_the_symbol_is_version_8_or_less_at_error_correction_m():
    # 190 characters in byte mode would need version 10 at M: version 8 proves alphanumeric mode.
    qr_code = the_only_qr_code_in(png_image(qr_images(TOKEN).png))

    assert qr_version(TOKEN) <= LARGEST_QR_VERSION
    assert qr_code.ec_level == "M"
    assert int(qr_code.extra["Version"]) == qr_version(TOKEN)


def test_the_png_has_a_white_quiet_zone_of_4_modules():
    box_size = 6
    image = png_image(qr_images(TOKEN, box_size=box_size).png)
    side = modules_across(qr_version(TOKEN)) * box_size
    quiet = QUIET_ZONE_MODULES * box_size

    assert image.size == (side, side)
    inside = (quiet, quiet, side - quiet, side - quiet)
    margin_colours = {
        image.getpixel((x, y))
        for x in range(side)
        for y in range(side)
        if not (inside[0] <= x < inside[2] and inside[1] <= y < inside[3])
    }
    assert margin_colours == {WHITE}
    # The finder pattern's dark corner module starts right where the quiet zone ends.
    assert image.getpixel((quiet, quiet)) == (0, 0, 0)


def test_the_png_still_decodes_at_a_small_box_size():
    qr_code = the_only_qr_code_in(png_image(qr_images(TOKEN, box_size=3).png))

    assert qr_code.text == TOKEN


def test_rendering_rejects_text_that_is_not_qr_alphanumeric():
    with pytest.raises(ValueError):
        qr_images(TOKEN.lower())


def test_the_svg_is_a_standalone_document_with_a_white_background():
    svg = qr_images(TOKEN).svg.decode()

    assert svg.startswith("<?xml")
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg
    assert '<rect fill="white"' in svg
    assert "<path" in svg


def test_the_svg_rasterised_decodes_to_the_token_even_on_a_dark_page():
    cairosvg = pytest.importorskip(
        "cairosvg", reason="cairosvg (pip) with libcairo2 (apt) rasterises the SVG"
    )
    pixels_per_module = 8
    side = modules_across(qr_version(TOKEN)) * pixels_per_module
    # No background colour is given to the rasteriser: the SVG must bring its own white.
    rendered = Image.open(
        io.BytesIO(cairosvg.svg2png(bytestring=qr_images(TOKEN).svg, output_width=side))
    ).convert("RGBA")
    dark_page = Image.new("RGBA", rendered.size, (20, 20, 28, 255))
    on_dark_page = Image.alpha_composite(dark_page, rendered).convert("RGB")

    qr_code = the_only_qr_code_in(on_dark_page)

    assert qr_code.text == TOKEN
    assert qr_code.ec_level == "M"
    assert verify_ticket(qr_code.text, PUBLIC_KEYS) == CLAIMS
