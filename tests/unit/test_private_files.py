"""At start, `loopgate run`, `worker` and `migrate` make the data dir private
(shared/private_files.py): whatever an earlier run under a loose umask left there becomes
readable by its user only."""

import stat

from shared.private_files import make_private


def mode(path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_an_existing_data_dir_is_tightened_folders_0700_files_0600(tmp_path):
    data_dir = tmp_path / "var"
    (data_dir / "metrics" / "checkin").mkdir(parents=True, mode=0o755)
    database = data_dir / "registration.db"
    database.write_bytes(b"SQLite format 3\0")
    (data_dir / "metrics" / "checkin" / "counter_1.db").write_bytes(b"")
    for path in (data_dir, database, *data_dir.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)

    make_private(data_dir)

    assert mode(data_dir) == 0o700
    assert {path.name: oct(mode(path)) for path in data_dir.rglob("*")} == {
        "registration.db": "0o600",
        "metrics": "0o700",
        "checkin": "0o700",
        "counter_1.db": "0o600",
    }


def test_a_missing_data_dir_is_made_0700(tmp_path):
    make_private(tmp_path / "new" / "var")
    assert mode(tmp_path / "new" / "var") == 0o700


def test_a_link_in_the_data_dir_leaves_what_it_points_to_alone(tmp_path):
    elsewhere = tmp_path / "shared-notes.txt"
    elsewhere.write_text("kept as it is")
    elsewhere.chmod(0o644)
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "notes").symlink_to(elsewhere)

    make_private(data_dir)

    assert mode(elsewhere) == 0o644
