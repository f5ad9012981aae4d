"""What `make run` prints: the pages a new user opens in a browser, each on its own line with
a plain label, and the organiser token (issue 16, point 1)."""

import re
from pathlib import Path

from services.cli import banner

URL = "http://127.0.0.1:8000"
SHOWCASE = "0b7e1c1e-5d0f-4c56-9a55-2f1f0d2b8c11"


def printed() -> str:
    return banner(
        URL,
        Path("/srv/var"),
        SHOWCASE,
        "3q2k-token",
        f"{URL}/api/ticketing/mailbox",
        f"{URL}/organiser/invitations/abc.def",
    )


def labelled(text: str) -> dict[str, str]:
    """The banner's `  label: value` lines, by label."""
    return dict(re.findall(r"^  ([a-z ]+):\s+(\S+)$", text, re.MULTILINE))


def test_the_banner_names_the_pages_a_person_opens_in_a_browser():
    lines = labelled(printed())

    assert lines["demo showcase"] == f"{URL}/events/{SHOWCASE}"
    assert lines["organiser login"] == f"{URL}/organiser/login"
    assert lines["door scanner"] == f"{URL}/api/checkin/scanner"
    assert lines["its doors"] == f"{URL}/api/checkin/organiser/events/{SHOWCASE}/doors"
    assert lines["live dashboard"] == f"{URL}/api/checkin/organiser/events/{SHOWCASE}/dashboard"
    assert lines["organiser token"] == "3q2k-token"
    assert lines["demo owner"] == f"{URL}/organiser/invitations/abc.def"


def test_the_banner_shows_no_json_api_url_as_the_showcase():
    assert "/api/registration/events/" not in printed()
    assert f"{URL}/api/registration/docs" in printed()
