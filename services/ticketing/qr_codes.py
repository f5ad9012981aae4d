"""QR codes for ticket tokens, as PNG and as SVG.

Error correction M restores up to about 15% of damaged modules, and a ticket token (190 QR
alphanumeric characters, see shared.tokens) fits a version 8 symbol at that level: modules
stay large enough, and enough of them can be lost, that a ticket shown on a cracked or dim
phone screen still scans at the door. The data is encoded in alphanumeric mode (5.5 bits a
character rather than 8), which is what keeps the symbol at version 8, and every image has the
4-module quiet zone the standard asks for. The SVG has its own white background, so it scans
on a dark page too.
"""

import io

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathFillImage
from qrcode.util import MODE_ALPHA_NUM, QRData

QUIET_ZONE_MODULES = 4


def _symbol(token: str, box_size: int = 10) -> qrcode.QRCode:
    """The fitted QR symbol for a token; ValueError if it is not QR alphanumeric text."""
    symbol = qrcode.QRCode(
        version=None,
        error_correction=ERROR_CORRECT_M,
        box_size=box_size,
        border=QUIET_ZONE_MODULES,
    )
    symbol.add_data(QRData(token, mode=MODE_ALPHA_NUM))
    symbol.make(fit=True)
    return symbol


def qr_version(token: str) -> int:
    """The QR version (1-40) of the symbol that carries this token."""
    return _symbol(token).version


def render_png(token: str, box_size: int = 10) -> bytes:
    """The token as a black-on-white PNG, box_size pixels a module."""
    image = _symbol(token, box_size).make_image(image_factory=PilImage)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def render_svg(token: str) -> bytes:
    """The token as a standalone SVG document: one path on a white background."""
    image = _symbol(token).make_image(image_factory=SvgPathFillImage)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
