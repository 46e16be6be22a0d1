"""Per-project server ports: chosen once, recorded outside the project, flags win."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from agentdock.launcher.errors import ConfigError
from agentdock.launcher.ports import Ports, port_is_free, project_ports, registered_projects


def _all_free(_: int) -> bool:
    return True


def test_the_first_project_gets_the_defaults_and_keeps_them(tmp_path: Path) -> None:
    a = tmp_path / "a"
    a.mkdir()
    assert project_ports(a, tmp_path / "data", is_free=_all_free) == Ports(8000, 8001)
    # later launches reuse the record even if the ports look busy (its own servers hold them)
    assert project_ports(a, tmp_path / "data", is_free=lambda _: False) == Ports(8000, 8001)
    assert registered_projects(tmp_path / "data") == {a.resolve(): Ports(8000, 8001)}


def test_a_second_project_gets_the_next_pair_even_while_the_first_is_stopped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    project_ports(a, data, is_free=_all_free)
    assert project_ports(b, data, is_free=_all_free) == Ports(8002, 8003)


def test_a_project_that_is_gone_gives_its_ports_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    gone = tmp_path / "gone"
    gone.mkdir()
    project_ports(gone, data, is_free=_all_free)
    gone.rmdir()
    here = tmp_path / "here"
    here.mkdir()
    assert project_ports(here, data, is_free=_all_free) == Ports(8000, 8001)
    assert set(registered_projects(data)) == {here.resolve()}


def test_a_busy_port_is_skipped(tmp_path: Path) -> None:
    busy = {8000, 8003}
    assert project_ports(tmp_path, tmp_path / "d", is_free=lambda p: p not in busy) == Ports(8004, 8005)


def test_explicit_ports_win_and_are_not_recorded(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert project_ports(tmp_path, data, qms=9000, is_free=_all_free) == Ports(9000, 8001)
    entry = json.loads((data / "ports.json").read_text())
    assert entry == {str(tmp_path.resolve()): {"qms": 8000, "git": 8001}}
    assert (data / "ports.json").stat().st_mode & 0o777 == 0o600


def test_a_corrupt_registry_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "ports.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"ports\.json is not readable JSON.*remove it"):
        project_ports(tmp_path, tmp_path, is_free=_all_free)


def test_no_free_pair_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pass --qms-port and --git-port"):
        project_ports(tmp_path, tmp_path / "d", is_free=lambda _: False)


def test_port_is_free_sees_a_real_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert not port_is_free(sock.getsockname()[1])
