"""Container limits: parsing, precedence (flag > environment > default) and the run options."""

from __future__ import annotations

import pytest

from agentdock.launcher.errors import ConfigError
from agentdock.launcher.hardening import ContainerLimits, format_bytes, limits_from, parse_memory, run_options


@pytest.mark.parametrize(
    ("text", "value"),
    [("2g", 2 * 1024**3), ("512m", 512 * 1024**2), ("1.5GiB", 1536 * 1024**2), ("268435456", 268435456)],
)
def test_memory_sizes_read_like_dockers(text: str, value: int) -> None:
    assert parse_memory(text) == value


@pytest.mark.parametrize("text", ["", "lots", "2x", "-1g", "1m"])
def test_unreadable_or_tiny_memory_sizes_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_memory(text)


def test_a_flag_beats_the_environment_which_beats_the_default() -> None:
    env = {"AGENTDOCK_MEMORY": "1g", "AGENTDOCK_PIDS_LIMIT": "256", "AGENTDOCK_CPUS": "1.5"}
    assert limits_from(None, None, None, {}) == ContainerLimits(2 * 1024**3, 512, 2.0)
    assert limits_from(None, None, None, env) == ContainerLimits(1024**3, 256, 1.5)
    assert limits_from("3g", "100", "0.5", env) == ContainerLimits(3 * 1024**3, 100, 0.5)
    assert format_bytes(3 * 1024**3) == "3g" and format_bytes(1536 * 1024**2) == "1536m"


def test_run_options_drop_every_capability_and_give_a_read_only_root_scratch_space() -> None:
    options = run_options(ContainerLimits(), uid=1000, gid=1000)
    assert options["cap_drop"] == ["ALL"] and "cap_add" not in options
    assert options["read_only"] is True and set(options["tmpfs"]) == {"/tmp", "/home/agent", "/run/agentdock"}
    writable = run_options(ContainerLimits(), uid=1000, gid=1000, read_only_root=False)
    assert writable["read_only"] is False and "tmpfs" not in writable
