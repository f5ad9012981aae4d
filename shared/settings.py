"""Settings from LOOPGATE_* environment variables, with defaults per run mode."""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.bus.topology import SERVICES

EMBEDDED = "embedded"
DISTRIBUTED = "distributed"


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    mode: str = EMBEDDED
    data_dir: Path = Path("var")
    broker_url: str = "memory://localhost/"
    database_urls: Mapping[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8000
    bootstrap_token: str | None = None
    smtp_url: str | None = None
    rate_limit: str | None = "20/minute"
    # How many proxies in front of a service may set X-Forwarded-For (the gateway is one).
    trusted_proxy_hops: int = 0
    relay_poll_seconds: float = 0.2

    def database_url(self, service: str) -> str:
        return self.database_urls[service]

    @property
    def is_embedded(self) -> bool:
        return self.mode == EMBEDDED

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
        database_urls = {
            service: get(
                f"{service.upper()}_DATABASE_URL",
                f"sqlite:///{data_dir / (service + '.db')}"
                if embedded
                else f"postgresql+psycopg://postgres@127.0.0.1:5432/loopgate_{service}",
            )
            for service in SERVICES
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
            port=_integer(get("PORT", "8000"), "LOOPGATE_PORT"),
            bootstrap_token=get("BOOTSTRAP_TOKEN"),
            smtp_url=get("SMTP_URL"),
            rate_limit=_rate_limit(get("RATE_LIMIT", "20/minute")),
            trusted_proxy_hops=_integer(
                get("TRUSTED_PROXY_HOPS", "0" if embedded else "1"), "LOOPGATE_TRUSTED_PROXY_HOPS"
            ),
            relay_poll_seconds=float(get("RELAY_POLL_SECONDS", "0.2")),
        )


def _integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {value!r}") from None


def _rate_limit(value: str) -> str | None:
    if value.lower() == "off":
        return None
    if not re.fullmatch(r"\d+/(second|minute|hour|day)", value):
        raise SettingsError(
            f"LOOPGATE_RATE_LIMIT must look like 20/minute or be off, not {value!r}"
        )
    return value
