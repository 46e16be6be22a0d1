"""agentdock.safefs: walks that never follow a link, reads that take only regular files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentdock import safefs


def test_open_dir_walks_real_folders_and_creates_the_missing_ones(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    handle = safefs.ensure_dir(tmp_path, "a/b/c")
    assert handle.created and (tmp_path / "a" / "b" / "c").is_dir()
    again = safefs.ensure_dir(tmp_path, "a/b/c")
    assert not again.created and (again.dev, again.ino) == (handle.dev, handle.ino)


@pytest.mark.parametrize("link_at", ["a", "a/b"])
def test_a_link_anywhere_below_the_anchor_is_refused_and_nothing_is_made_beyond_it(
    tmp_path: Path, link_at: str
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "a").mkdir()
    (root / link_at).rmdir() if (root / link_at).is_dir() else None
    (root / link_at).symlink_to(outside)
    with pytest.raises(safefs.UnsafePathError, match="symbolic link where a directory is expected"):
        safefs.ensure_dir(root, "a/b/c")
    assert list(outside.iterdir()) == []


def test_a_file_where_a_folder_belongs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x")
    with pytest.raises(safefs.UnsafePathError, match="regular file where a directory is expected"):
        safefs.ensure_dir(tmp_path, "a/b")


def test_owners_are_checked_on_every_component(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    with pytest.raises(safefs.UnsafePathError, match="owned by uid"):
        safefs.ensure_dir(tmp_path, "a", owners=frozenset({os.geteuid() + 1}))


@pytest.mark.parametrize("rel", ["/etc", "a/../b", "../x"])
def test_absolute_or_climbing_paths_are_refused(tmp_path: Path, rel: str) -> None:
    with pytest.raises(ValueError):
        safefs.ensure_dir(tmp_path, rel)


def test_read_regular_file_refuses_links_fifos_and_oversized_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("host secret")
    (tmp_path / "link").symlink_to(secret)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "big").write_bytes(b"x" * 11)
    (tmp_path / "ok").write_bytes(b"fine")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(safefs.UnsafePathError, match="symbolic link"):
            safefs.read_regular_file(fd, "link", 10, tmp_path / "link")
        with pytest.raises(safefs.UnsafePathError, match="not a regular file"):
            safefs.read_regular_file(fd, "fifo", 10, tmp_path / "fifo")  # and does not block
        with pytest.raises(safefs.UnsafePathError, match="larger than 10"):
            safefs.read_regular_file(fd, "big", 10, tmp_path / "big")
        assert safefs.read_regular_file(fd, "ok", 10, tmp_path / "ok") == b"fine"
        with pytest.raises(FileNotFoundError):
            safefs.read_regular_file(fd, "gone", 10, tmp_path / "gone")
    finally:
        os.close(fd)


def test_create_file_excl_never_writes_through_a_dangling_link(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "victim"
    target.parent.mkdir()
    (tmp_path / "stub").symlink_to(target)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert safefs.create_file_excl(fd, "stub", b"{}") is False
        assert safefs.create_file_excl(fd, "fresh", b"{}") is True
        safefs.write_file_atomic(fd, "over", b"1")
        safefs.write_file_atomic(fd, "over", b"2", mode=0o600)
    finally:
        os.close(fd)
    assert not target.exists()
    assert (tmp_path / "fresh").read_bytes() == b"{}"
    assert (tmp_path / "over").read_bytes() == b"2" and (tmp_path / "over").stat().st_mode & 0o777 == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root (CI runs as root)")
def test_hand_over_changes_only_our_own_files_and_never_a_link_or_hard_link_target(tmp_path: Path) -> None:
    host_file = tmp_path / "host-file"
    host_file.write_text("root's")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "mine.md").write_text("draft")
    (tree / "link").symlink_to(host_file)
    os.link(host_file, tree / "hard")
    (tree / "dirlink").symlink_to(tmp_path)
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        changed = safefs.hand_over_tree(fd, 4242, 4242, from_uids=[0])
    finally:
        os.close(fd)
    assert changed == 3  # tree, sub, mine.md
    assert (tree / "sub" / "mine.md").stat().st_uid == 4242 and tree.stat().st_uid == 4242
    assert host_file.stat().st_uid == 0 and (tree / "link").lstat().st_uid == 0
    assert tmp_path.stat().st_uid == 0
