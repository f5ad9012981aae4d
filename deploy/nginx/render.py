"""The gateway's nginx config for `make distributed` and the tests (the Procfile's `gateway`
line): `python deploy/nginx/render.py DIR` writes DIR/loopgate.conf, the template beside this
file with its ${LOOPGATE_*} values filled in from the environment, and DIR/nginx.conf, which
includes it. DIR is then nginx's prefix: its pid file and temp dirs go there too.

The official nginx image fills in the same template itself (envsubst; docker-compose.yml), so
the template holds plain ${NAME} values only. This step gives them the Procfile's defaults
and refuses any value nginx would misread. Standard library only.
"""

import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "loopgate.conf.template"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")

# Where each service listens unless LOOPGATE_<SERVICE>_PORT says otherwise, as in the Procfile.
SERVICE_PORTS = {"REGISTRATION": "8101", "TICKETING": "8102", "CHECKIN": "8103"}
WHOLE_NUMBER = re.compile(r"\d+")
# host:port as nginx's `server` takes it: a name, an IPv4 address or a bracketed IPv6 one.
UPSTREAM = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d+")
HOST = re.compile(r"[A-Za-z0-9.-]+|[0-9A-Fa-f:.]+")


class ConfigError(ValueError):
    pass


def values(environ: Mapping[str, str]) -> dict[str, str]:
    """The template's values: the environment's, else the defaults; each checked."""

    def get(name: str, default: str) -> str:
        return environ.get(name) or default

    found = {
        "LOOPGATE_HOST": get("LOOPGATE_HOST", "127.0.0.1"),
        "LOOPGATE_PORT": get("LOOPGATE_PORT", "8000"),
        "LOOPGATE_GATEWAY_TIMEOUT_SECONDS": get("LOOPGATE_GATEWAY_TIMEOUT_SECONDS", "30"),
        "LOOPGATE_GATEWAY_TRUSTED_PROXY_HOPS": get("LOOPGATE_GATEWAY_TRUSTED_PROXY_HOPS", "0"),
    }
    for service, port in SERVICE_PORTS.items():
        port = get(f"LOOPGATE_{service}_PORT", port)
        upstream = f"LOOPGATE_{service}_UPSTREAM"
        found[upstream] = get(upstream, f"127.0.0.1:{port}")
        if not UPSTREAM.fullmatch(found[upstream]):
            raise ConfigError(f"{upstream} must be host:port, not {found[upstream]!r}")
    for name in ("LOOPGATE_PORT", "LOOPGATE_GATEWAY_TRUSTED_PROXY_HOPS"):
        if not WHOLE_NUMBER.fullmatch(found[name]):
            raise ConfigError(f"{name} must be a whole number, not {found[name]!r}")
    timeout = found["LOOPGATE_GATEWAY_TIMEOUT_SECONDS"]
    if not WHOLE_NUMBER.fullmatch(timeout) or int(timeout) == 0:
        # nginx takes whole seconds ("0.5s" is not a time to it).
        raise ConfigError(
            f"LOOPGATE_GATEWAY_TIMEOUT_SECONDS must be a whole number of seconds, not {timeout!r}"
        )
    host = found["LOOPGATE_HOST"]
    if not HOST.fullmatch(host):
        raise ConfigError(f"LOOPGATE_HOST must be an address or host name, not {host!r}")
    if ":" in host:  # IPv6: listen [::1]:8000
        found["LOOPGATE_HOST"] = f"[{host}]"
    return found


def render(template: str, found: Mapping[str, str]) -> str:
    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in found:
            raise ConfigError(f"{TEMPLATE.name} asks for {name}, which render.py does not know")
        return found[name]

    return PLACEHOLDER.sub(fill, template)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} DIR (nginx's prefix: the config goes there)", file=sys.stderr)
        return 2
    try:
        config = render(TEMPLATE.read_text(), values(os.environ))
    except ConfigError as error:
        print(f"gateway: {error}", file=sys.stderr)
        return 2
    os.umask(0o077)  # private, as everything in the data dir
    prefix = Path(argv[1])
    prefix.mkdir(mode=0o700, parents=True, exist_ok=True)
    (prefix / "loopgate.conf").write_text(config)
    shutil.copyfile(HERE / "nginx.conf", prefix / "nginx.conf")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
