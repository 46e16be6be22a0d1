"""agentdock.paths: the data folder is the one place for secrets, outside every project."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdock import paths


def test_data_home_prefers_agentdock_data_dir_then_xdg_then_home(tmp_path: Path) -> None:
    assert (
        paths.data_home({"AGENTDOCK_DATA_DIR": str(tmp_path / "d"), "XDG_DATA_HOME": "/x"}) == tmp_path / "d"
    )
    assert paths.data_home({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "agentdock"
    assert paths.data_home({"XDG_DATA_HOME": "relative/ignored"}) == Path.home() / ".local/share/agentdock"
    assert paths.data_home({}) == Path.home() / ".local" / "share" / "agentdock"


def test_the_launchers_data_dir_is_the_same_function() -> None:
    from agentdock.launcher.project import default_data_dir

    env = {"AGENTDOCK_DATA_DIR": "/srv/agentdock"}
    assert default_data_dir(env) == paths.data_home(env)


def test_project_key_is_stable_per_resolved_root_and_distinct_between_roots(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (tmp_path / "alias").symlink_to(one)
    assert paths.project_key(one) == paths.project_key(tmp_path / "alias") == paths.project_key(one)
    assert paths.project_key(one) != paths.project_key(two)
    assert paths.project_key(one).startswith("one-")


def test_every_secret_path_is_outside_the_project_and_per_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDOCK_DATA_DIR", str(tmp_path / "data"))
    root = tmp_path / "proj"
    root.mkdir()
    secret_paths = [
        paths.token_store_file(root),
        paths.agent_token_file(root, "qa"),
        paths.agent_overlay_dir(root, "qa"),
        paths.agent_container_dir(root, "qa"),
    ]
    for path in secret_paths:
        assert not path.is_relative_to(root), path
        assert path.is_relative_to(paths.project_data_dir(root)), path
    assert not paths.agent_data_dir(root, "claude").is_relative_to(paths.agent_data_dir(root, "qa"))
    assert paths.person_settings_file().parent == tmp_path / "data"


def test_launcher_started_servers_get_the_launchers_data_dir_and_the_rest_of_the_allowed_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from agentdock.launcher import servers

    seen: dict[str, str] = {}

    class FakePopen:
        pid = 4242

        def __init__(self, argv: list[str], **kwargs: object) -> None:
            seen.update(kwargs["env"])  # type: ignore[arg-type]

        def poll(self) -> None:
            return None

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("AGENTDOCK_DATA_DIR", raising=False)
    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    servers.start_server(servers.server_specs(tmp_path, ["127.0.0.1"], 1, 2)[0])
    assert seen.get("AGENTDOCK_DATA_DIR") == str(tmp_path / "xdg" / "agentdock")
    assert "PATH" in seen
