"""The container filesystem plan: binds, masks, overlays and the host preparation they need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdock import paths
from agentdock.launcher.hostprep import prepare_host
from agentdock.launcher.layout import LayoutSpec, agent_settings, mcp_config, plan_layout


def _binds(layout):  # type: ignore[no-untyped-def]
    return {b.target: b for b in layout.binds}


def test_project_root_is_read_only_and_only_the_agents_own_folders_are_writable(project: Path) -> None:
    layout = plan_layout(LayoutSpec(project, "qa", "tok"))
    binds = _binds(layout)
    assert layout.project_dir == "/demo-proj"
    assert binds["/demo-proj"].read_only and binds["/demo-proj"].source == str(project)
    writable = {t for t, b in binds.items() if not b.read_only}
    assert writable == {
        "/demo-proj/.claude/users/qa/workspace",
        "/demo-proj/.claude/sessions/qa",
        "/home/agent/.claude",
        "/projects",
    }
    assert binds["/home/agent/.claude"].source == str(paths.agent_container_dir(project, "qa"))
    assert not paths.agent_container_dir(project, "qa").is_relative_to(project)
    assert binds["/projects"].volume and binds["/projects"].source == "agentdock-projects-qa"


def test_no_writable_folder_is_shared_by_two_agents(project: Path, tmp_path: Path) -> None:
    for projects in ("agentdock-projects", tmp_path / "projects"):
        sources: dict[str, str] = {}
        for agent in paths.DEFAULT_AGENTS:
            layout = plan_layout(LayoutSpec(project, agent, "tok", projects=projects))
            for bind in layout.binds:
                if not bind.read_only:
                    assert bind.source not in sources, (
                        f"{bind.source}: {sources.get(bind.source)} and {agent}"
                    )
                    sources[bind.source] = agent
        assert sources[str(paths.sessions_dir(project) / "bu")] == "bu"
    assert sources[str(tmp_path / "projects" / "qa")] == "qa"
    prepare_host(plan_layout(LayoutSpec(project, "qa", "tok", projects=tmp_path / "projects")), uid=1, gid=1)
    assert (tmp_path / "projects" / "qa").is_dir() and (paths.sessions_dir(project) / "qa").is_dir()


def test_the_projects_claude_folder_and_run_state_are_masked_by_empty_read_only_tmpfs(project: Path) -> None:
    layout = plan_layout(LayoutSpec(project, "qa", "tok"))
    assert set(layout.tmpfs) == {"/demo-proj/.claude", "/demo-proj/.agentdock"}
    assert all(opts.startswith("ro,") for opts in layout.tmpfs.values())
    sources = {b.source for b in layout.binds}
    for other in paths.DEFAULT_AGENTS:
        if other != "qa":
            assert not any(s.startswith(str(paths.agent_dir(project, other))) for s in sources)


def test_mcp_overlay_runs_both_servers_through_the_proxy_with_the_agents_token(project: Path) -> None:
    config = mcp_config(LayoutSpec(project, "qa", "adk_secret", qms_port=9100, git_port=9101))
    assert set(config["mcpServers"]) == {"qms", "git"}
    qms = config["mcpServers"]["qms"]
    assert qms["command"] == "python3"
    assert qms["args"] == [
        "-S",
        "/proxy/mcp_proxy.py",
        "http://host.docker.internal:9100/mcp",
        "--retries",
        "3",
        "--timeout",
        "10000",
        "--header",
        "Authorization=Bearer adk_secret",
    ]
    assert config["mcpServers"]["git"]["args"][2] == "http://host.docker.internal:9101/mcp"


def test_non_claude_agents_get_their_definition_as_claude_md_and_claude_keeps_the_projects(
    project: Path,
) -> None:
    qa = plan_layout(LayoutSpec(project, "qa", "tok"))
    overlay = _binds(qa)["/demo-proj/CLAUDE.md"]
    assert overlay.read_only and overlay.source == str(paths.agent_overlay_dir(project, "qa") / "CLAUDE.md")
    assert qa.overlays["CLAUDE.md"] == (paths.agents_dir(project) / "qa.md").read_text()
    claude = plan_layout(LayoutSpec(project, "claude", "tok"))
    assert "/demo-proj/CLAUDE.md" not in _binds(claude)


def test_settings_come_only_from_the_launcher_and_the_persons_file_never_from_the_project(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / ".claude" / "settings.json").write_text(
        json.dumps({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "touch /tmp/pwned"}]}]}})
    )
    (project / ".claude" / "settings.local.json").write_text(json.dumps({"permissions": {"allow": ["Bash"]}}))
    layout = plan_layout(LayoutSpec(project, "qa", "tok"))
    for name in ("settings.json", "settings.local.json"):
        settings = json.loads(layout.overlays[name])
        assert "hooks" not in settings and settings["disableAllHooks"] is True
        assert settings["permissions"]["allow"] == ["mcp__qms", "mcp__git"]
        assert settings["enabledMcpjsonServers"] == ["qms", "git"]
    person = {"permissions": {"allow": ["Bash(ls)"]}, "model": "x", "hooks": {"Stop": []}}
    monkeypatch.setenv("AGENTDOCK_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    paths.person_settings_file().write_text(json.dumps(person))
    merged = json.loads(plan_layout(LayoutSpec(project, "qa", "tok")).overlays["settings.json"])
    assert merged["model"] == "x" and merged["permissions"]["allow"] == ["Bash(ls)", "mcp__qms", "mcp__git"]
    assert "disableAllHooks" not in agent_settings({"hooks": {"Stop": [{"hooks": []}]}})


def test_prepare_host_writes_private_overlays_outside_the_project_and_inert_stubs(project: Path) -> None:
    layout = plan_layout(LayoutSpec(project, "qa", "adk_secret"))
    assert set(layout.stubs) == {".mcp.json", "CLAUDE.md"}
    prepare_host(layout, uid=1000, gid=1000)
    mcp = layout.overlay_dir / "mcp.json"
    assert json.loads(mcp.read_text())["mcpServers"]["qms"]["args"][-1] == "Authorization=Bearer adk_secret"
    assert mcp.stat().st_mode & 0o077 == 0
    assert layout.overlay_dir.stat().st_mode & 0o077 == 0
    assert json.loads((project / ".mcp.json").read_text()) == {"mcpServers": {}}
    assert "adk_secret" not in (project / ".mcp.json").read_text()
    for folder in layout.writable_dirs:
        assert folder.is_dir()
    assert not layout.overlay_dir.is_relative_to(project)
    assert layout.overlay_dir.is_relative_to(paths.project_data_dir(project))


def test_existing_overlay_targets_are_not_replaced_by_stubs(project: Path) -> None:
    (project / ".mcp.json").write_text('{"mcpServers": {"mine": {}}}\n')
    layout = plan_layout(LayoutSpec(project, "claude", "tok"))
    prepare_host(layout, uid=1000, gid=1000)
    assert json.loads((project / ".mcp.json").read_text()) == {"mcpServers": {"mine": {}}}


def test_ssh_folder_is_mounted_read_only_only_when_present(project: Path, tmp_path: Path) -> None:
    assert "/home/agent/.ssh" not in _binds(
        plan_layout(LayoutSpec(project, "qa", "t", ssh_dir=tmp_path / "no"))
    )
    ssh = tmp_path / "ssh"
    ssh.mkdir()
    bind = _binds(plan_layout(LayoutSpec(project, "qa", "t", ssh_dir=ssh)))["/home/agent/.ssh"]
    assert bind.read_only and bind.source == str(ssh)


def test_agent_definitions_reach_the_container_with_only_the_roster_keys(project: Path) -> None:
    from agentdock.launcher.layout import sanitized_definition

    risky = (
        "---\nname: bu\ngroup: reviewer\ndescription: reviews\npermissionMode: bypassPermissions\n"
        "tools: Bash\nhooks:\n  Stop: []\nmcpServers: {x: {command: sh}}\n---\n# You are bu\n"
    )
    (paths.agents_dir(project) / "bu.md").write_text(risky)
    (paths.agents_dir(project) / "evil.md").symlink_to("/etc/passwd")
    layout = plan_layout(LayoutSpec(project, "qa", "tok"))
    bind = _binds(layout)["/demo-proj/.claude/agents"]
    assert bind.read_only and bind.source == str(layout.overlay_dir / "agents")
    assert layout.overlays["agents/bu.md"] == (
        "---\nname: bu\ngroup: reviewer\ndescription: reviews\n---\n# You are bu\n"
    )
    assert "agents/evil.md" not in layout.overlays and "agents/qa.md" in layout.overlays
    assert sanitized_definition("no front matter\n") == "no front matter\n"
    prepare_host(layout, uid=1000, gid=1000)
    copied = layout.overlay_dir / "agents"
    assert sorted(p.name for p in copied.iterdir()) == sorted(n[7:] for n in layout.overlays if "/" in n)
    assert copied.stat().st_mode & 0o777 == 0o755
