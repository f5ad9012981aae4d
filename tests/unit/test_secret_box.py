"""Secrets sealed at rest: what a copied database file holds is useless without the
key-encryption key, and a sealed value opens only as what it was sealed as."""

import base64
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.secret_box import KEY_FILE, SecretBox, SecretBoxError, key_encryption_key


def test_a_sealed_secret_opens_with_its_key_and_context():
    box = SecretBox(bytes(range(32)))
    sealed = box.seal(b"ed25519 private key", "signing-key:0a1b2c3d")

    assert b"ed25519" not in sealed
    assert box.open(sealed, "signing-key:0a1b2c3d") == b"ed25519 private key"


def test_sealing_twice_gives_different_bytes():
    box = SecretBox(bytes(32))
    assert box.seal(b"same", "ctx") != box.seal(b"same", "ctx")


def test_a_sealed_secret_moved_to_another_context_does_not_open():
    box = SecretBox(bytes(32))
    sealed = box.seal(b"key of event A", "signing-key:aaaaaaaa")
    with pytest.raises(SecretBoxError):
        box.open(sealed, "signing-key:bbbbbbbb")


def test_another_key_or_an_altered_byte_does_not_open():
    sealed = SecretBox(bytes(32)).seal(b"secret", "ctx")
    with pytest.raises(SecretBoxError):
        SecretBox(bytes([1] * 32)).open(sealed, "ctx")
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SecretBoxError):
        SecretBox(bytes(32)).open(altered, "ctx")


def test_without_configuration_one_key_file_is_made_private_and_kept(tmp_path):
    data_dir = tmp_path / "var"
    first = key_encryption_key(None, data_dir)

    assert key_encryption_key(None, data_dir) == first
    assert stat.S_IMODE((data_dir / KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


def test_processes_starting_at_once_all_read_the_same_key(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: key_encryption_key(None, tmp_path), range(32)))
    assert len(keys) == 1
    assert [path.name for path in tmp_path.iterdir()] == [KEY_FILE]


def test_a_configured_key_is_used_and_a_malformed_one_refused(tmp_path):
    configured = base64.b64encode(bytes([7] * 32)).decode()
    assert key_encryption_key(configured, tmp_path) == bytes([7] * 32)
    assert not (tmp_path / KEY_FILE).exists()
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(SecretBoxError):
            key_encryption_key(bad, tmp_path)
