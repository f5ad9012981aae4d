"""Settings from LOOPGATE_* environment variables, with defaults per run mode."""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

from shared.secret_box import SecretBox, key_encryption_key

EMBEDDED = "embedded"
DISTRIBUTED = "distributed"


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class SmtpServer:
    """Where mail goes, from LOOPGATE_SMTP_URL: smtp://[user:password@]host[:port] (plain,
    port 25) or smtp+starttls://... (upgraded to TLS before logging in, port 587)."""

    host: str
    port: int
    starttls: bool
    username: str | None = None
    password: str | None = None


_SMTP_SCHEMES = {"smtp": (25, False), "smtp+starttls": (587, True)}


@dataclass(frozen=True)
class Settings:
    mode: str = EMBEDDED
    data_dir: Path = Path("var")
    broker_url: str = "memory://localhost/"
    # By service name, from LOOPGATE_<SERVICE>_DATABASE_URL; a service not in it gets the
    # mode's default (database_url).
    database_urls: Mapping[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8000
    bootstrap_token: str | None = None
    smtp_url: str | None = None
    # Where attendees' links point (mail is read far from the server that wrote it).
    public_url: str = "http://127.0.0.1:8000"
    mail_from: str = "Loopgate <tickets@loopgate.localhost>"
    # The pause before a failed mail is tried again; it doubles after each failure.
    mail_first_retry_seconds: float = 30.0
    rate_limit: str | None = "20/minute"
    # How many proxies in front of a service may set X-Forwarded-For (the gateway is one).
    trusted_proxy_hops: int = 0
    # The bearer token the metrics ask for; None: they answer on this machine only.
    metrics_token: str | None = None
    relay_poll_seconds: float = 0.05
    # Base64 of 32 bytes sealing secrets at rest (shared/secret_box.py); None: a key file in
    # the data dir, made once.
    key_encryption_key: str | None = None

    def database_url(self, service: str) -> str:
        """LOOPGATE_<SERVICE>_DATABASE_URL, or else one SQLite file per service in the data dir
        (embedded) or one database per service on the local PostgreSQL (distributed)."""
        if service in self.database_urls:
            return self.database_urls[service]
        if self.is_embedded:
            return f"sqlite:///{self.data_dir / (service + '.db')}"
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/loopgate_{service}"

    @property
    def is_embedded(self) -> bool:
        return self.mode == EMBEDDED

    @property
    def smtp_server(self) -> SmtpServer | None:
        """None: mail is written to the mailbox folder instead of being sent."""
        return smtp_server(self.smtp_url) if self.smtp_url else None

    def secret_box(self) -> "SecretBox":
        """What seals this instance's secrets at rest (the same key in every process)."""
        return SecretBox(key_encryption_key(self.key_encryption_key, self.data_dir))

    @property
    def mailbox_dir(self) -> Path:
        return self.data_dir / "mailbox"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        def get(name: str, default: str | None = None) -> str | None:
            value = environ.get(f"LOOPGATE_{name}")
            return value if value not in (None, "") else default

        mode = get("MODE", EMBEDDED)
        if mode not in (EMBEDDED, DISTRIBUTED):
            raise SettingsError(f"LOOPGATE_MODE must be {EMBEDDED} or {DISTRIBUTED}, not {mode!r}")
        data_dir = Path(get("DATA_DIR", "var")).resolve()
        embedded = mode == EMBEDDED
        port = _integer(get("PORT", "8000"), "LOOPGATE_PORT")
        smtp_url = get("SMTP_URL")
        if smtp_url:
            smtp_server(smtp_url)  # a bad URL stops the start, not the first mail hours later
        # Settings know no service: whichever the caller asks for (database_url).
        database_urls = {
            match[1].lower(): value
            for name, value in environ.items()
            if value and (match := _DATABASE_URL_VARIABLE.fullmatch(name))
        }
        return cls(
            mode=mode,
            data_dir=data_dir,
            broker_url=get(
                "BROKER_URL",
                "memory://localhost/" if embedded else "amqp://guest:guest@127.0.0.1:5672//",
            ),
            database_urls=database_urls,
            host=get("HOST", "127.0.0.1"),
            port=port,
            bootstrap_token=get("BOOTSTRAP_TOKEN"),
            smtp_url=smtp_url,
            public_url=_public_url(get("PUBLIC_URL", f"http://127.0.0.1:{port}")),
            mail_from=_mail_from(get("MAIL_FROM", cls.mail_from)),
            mail_first_retry_seconds=_positive_seconds(
                get("MAIL_FIRST_RETRY_SECONDS", "30"), "LOOPGATE_MAIL_FIRST_RETRY_SECONDS"
            ),
            rate_limit=_rate_limit(get("RATE_LIMIT", "20/minute")),
            trusted_proxy_hops=_integer(
                get("TRUSTED_PROXY_HOPS", "0" if embedded else "1"), "LOOPGATE_TRUSTED_PROXY_HOPS"
            ),
            relay_poll_seconds=float(get("RELAY_POLL_SECONDS", "0.05")),
            metrics_token=get("METRICS_TOKEN"),
            key_encryption_key=get("KEY_ENCRYPTION_KEY"),
        )


_DATABASE_URL_VARIABLE = re.compile(r"LOOPGATE_([A-Z][A-Z0-9]*)_DATABASE_URL")


def _integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {value!r}") from None


def _positive_seconds(value: str, name: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise SettingsError(f"{name} must be a number of seconds above 0, not {value!r}")
    return seconds


def _rate_limit(value: str) -> str | None:
    if value.lower() == "off":
        return None
    if not re.fullmatch(r"\d+/(second|minute|hour|day)", value):
        raise SettingsError(
            f"LOOPGATE_RATE_LIMIT must look like 20/minute or be off, not {value!r}"
        )
    return value


def smtp_server(url: str) -> SmtpServer:
    parts = urlsplit(url)
    if parts.scheme not in _SMTP_SCHEMES or not parts.hostname:
        raise SettingsError(
            "LOOPGATE_SMTP_URL must look like smtp://[user:password@]host[:port] "
            f"or smtp+starttls://..., not {url!r}"
        )
    default_port, starttls = _SMTP_SCHEMES[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise SettingsError(f"LOOPGATE_SMTP_URL has a bad port: {url!r}") from None
    return SmtpServer(
        host=parts.hostname,
        port=port,
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _public_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise SettingsError(
            f"LOOPGATE_PUBLIC_URL must be an http(s) URL such as https://tickets.example.org, "
            f"not {value!r}"
        )
    return value.rstrip("/")


def _mail_from(value: str) -> str:
    if "@" not in parseaddr(value)[1]:
        raise SettingsError(
            f"LOOPGATE_MAIL_FROM must be an address such as 'Loopgate <tickets@example.org>', "
            f"not {value!r}"
        )
    return value
