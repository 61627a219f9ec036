"""Atomic outputs: all or nothing, with the permissions an ordinary write would give."""

import os

import pytest

from flownet.fileutil import atomic_folder, atomic_path


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_file_and_folder_get_ordinary_permissions(tmp_path, umask_022):
    with atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("x")
    with atomic_folder(tmp_path / "frames") as folder:
        (folder / "0.txt").write_text("y")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
    assert (tmp_path / "frames").stat().st_mode & 0o777 == 0o755  # not mkdtemp's 0700
    assert (tmp_path / "frames" / "0.txt").read_text() == "y"


def test_failed_writes_leave_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError
    with pytest.raises(RuntimeError):
        with atomic_folder(tmp_path / "frames") as folder:
            (folder / "0.txt").write_text("y")
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []
