"""Whatever a Loopgate process writes (databases, mail, keys, tokens, metrics) only its own
user may read: the umask of every process that writes to the data dir, and the data dir made
private at start (`loopgate run`, `migrate` and `worker`, services/cli.py)."""

from pathlib import Path

# No group or other bits.
PRIVATE_UMASK = 0o077


def make_private(data_dir: Path) -> None:
    """The data dir and all in it readable by this user only, whatever earlier runs (under
    another umask) left: folders 0700, files 0600."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    for path in data_dir.rglob("*"):
        # A link is the operator's choice, and chmod would change what it points to.
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)
