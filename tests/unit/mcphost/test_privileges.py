"""Root policy and resource limits of the shared host (the real drop is proven on real servers in
tests/security/test_server_privileges.py)."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from agentdock.mcphost.limits import FD_RESERVE, Limits, raise_nofile_limit
from agentdock.mcphost.privileges import PrivilegeError, drop_privileges, hand_over

as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")


@as_root
def test_a_root_owned_project_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(PrivilegeError, match=r"refusing to run as root.*--allow-root"):
        drop_privileges(tmp_path, allow_root=False, environ={})
    assert os.geteuid() == 0  # nothing changed


@as_root
def test_allow_root_keeps_root_and_says_so(tmp_path: Path) -> None:
    assert "running as root (--allow-root)" in drop_privileges(tmp_path, allow_root=True, environ={})
    assert os.geteuid() == 0


@as_root
def test_hand_over_gives_root_created_state_to_the_owner_without_following_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("root's")
    state = tmp_path / "state"
    (state / "run").mkdir(parents=True)
    (state / "run" / "server.log").write_text("x")
    (state / "tokens.json").write_text("{}")
    (state / "escape").symlink_to(outside)
    os.lchown(state / "run" / "server.log", 1234, 1234)  # already someone's: left as it is
    changed = hand_over(state, 1000, 1000)
    assert changed == 4  # state, run, tokens.json, the link itself
    assert (state / "tokens.json").stat().st_uid == 1000 and state.stat().st_uid == 1000
    assert os.lstat(state / "escape").st_uid == 1000
    assert outside.stat().st_uid == 0  # the link's target is untouched
    assert (state / "run" / "server.log").stat().st_uid == 1234


@as_root
def test_hand_over_leaves_a_symlinked_folder_alone(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert hand_over(tmp_path / "link", 1000, 1000) == 0
    assert real.stat().st_uid == 0
    assert hand_over(tmp_path / "missing", 1000, 1000) == 0


def test_the_connection_cap_fits_the_descriptors_the_process_may_open() -> None:
    limits = Limits(max_connections=1024, max_connections_per_peer=64)
    assert limits.fitted(resource.RLIM_INFINITY) == limits
    assert limits.fitted(4096) == limits
    small = limits.fitted(FD_RESERVE + 50)
    assert small.max_connections == 50 and small.max_connections_per_peer == 50


def test_the_soft_descriptor_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if hard != resource.RLIM_INFINITY and soft == hard and hard > 256:
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        new_soft, new_hard = raise_nofile_limit()
        assert new_hard == hard
        assert new_soft == hard or hard == resource.RLIM_INFINITY
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == new_soft
    finally:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (max(soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0]), hard)
        )


@pytest.mark.parametrize("field", ["read_timeout_s", "idle_timeout_s", "max_connections", "max_body_bytes"])
def test_limits_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Limits(**{field: 0})
