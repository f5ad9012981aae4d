"""Screenshots the e2e tests leave in /tmp/shots for a person to look at: each page at a
phone's width and a laptop's, and never wider than the screen."""

from collections.abc import Callable
from pathlib import Path

SHOTS = Path("/tmp/shots")
WIDTHS = (390, 1366)
LAPTOP = {"width": 1366, "height": 900}


def shoot(page, name: str, then: dict | None = LAPTOP) -> None:
    """The whole page at each of WIDTHS, as /tmp/shots/<name>-<width>.png; the test fails
    when the page is wider than the screen (a phone never scrolls a page sideways). The
    viewport is `then` afterwards, or as it was when `then` is None."""
    SHOTS.mkdir(exist_ok=True)
    size = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px wider than {width}px"
    page.set_viewport_size(then or size)


def shooter(prefix: str, then: dict | None = LAPTOP) -> Callable[..., None]:
    """`shoot` for one test's pages: shooter("doors")(page, "pairing") writes
    /tmp/shots/doors-pairing-390.png and doors-pairing-1366.png."""

    def shoot_page(page, name: str) -> None:
        shoot(page, f"{prefix}-{name}", then)

    return shoot_page
