"""Secrets an earlier version left in the project are moved out once, never copied and left."""

from __future__ import annotations

import json
from pathlib import Path

from agentdock import paths
from agentdock.mcphost import TokenStore, legacy_secrets, migrate_legacy_secrets
from agentdock.mcphost.cli import main as token_main


def _old_layout(project: Path) -> str:
    old_token = "adk_old_token_that_every_agent_could_read"
    container = paths.legacy_agent_container_dir(project, "qa")
    container.mkdir(parents=True)
    (container / ".agentdock-token").write_text(old_token + "\n")
    (container / ".claude.json").write_text(json.dumps({"oauthAccount": {"emailAddress": "qa@x"}}))
    (container / "projects").mkdir()
    (container / "projects" / "s.jsonl").write_text("{}\n")
    paths.state_dir(project).mkdir(exist_ok=True)
    paths.legacy_token_store_file(project).write_text(json.dumps({"version": 1, "agents": {}}))
    overlays = paths.legacy_overlays_dir(project) / "qa"
    overlays.mkdir(parents=True)
    (overlays / "mcp.json").write_text(f'{{"args": ["Authorization=Bearer {old_token}"]}}')
    return old_token


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def test_migration_moves_the_login_discards_old_tokens_and_leaves_no_copy(project: Path) -> None:
    old = _old_layout(project)
    assert len(legacy_secrets(project)) == 3
    notes = migrate_legacy_secrets(project)
    assert any("discarded qa's old token" in n for n in notes)
    assert any("moved qa's Claude login" in n for n in notes)
    assert legacy_secrets(project) == []
    assert old.encode() not in _all_bytes(project)
    login = paths.agent_container_dir(project, "qa")
    assert json.loads((login / ".claude.json").read_text())["oauthAccount"]["emailAddress"] == "qa@x"
    assert (login / "projects" / "s.jsonl").is_file()
    assert not (login / ".agentdock-token").exists()
    assert not paths.legacy_agent_container_dir(project, "qa").exists()
    assert migrate_legacy_secrets(project) == []  # once


def test_the_old_token_no_longer_verifies_and_a_new_one_is_issued(project: Path) -> None:
    old = _old_layout(project)
    migrate_legacy_secrets(project)
    store = TokenStore(project)
    new = store.ensure("qa")
    assert new != old and store.verify(old) is None and store.verify(new) == "qa"


def test_a_planted_link_at_the_old_location_is_removed_not_followed(project: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("host data")
    paths.users_dir(project).joinpath("qa").mkdir(parents=True)
    paths.legacy_agent_container_dir(project, "qa").symlink_to(victim)
    notes = migrate_legacy_secrets(project)
    assert notes and "not a folder" in notes[0]
    assert (victim / "keep").read_text() == "host data"
    assert not paths.agent_container_dir(project, "qa").exists()


def test_the_token_cli_migrates_and_says_so(project: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _old_layout(project)
    assert token_main(["qa", "--project-root", str(project)]) == 0
    out = capsys.readouterr()
    assert "discarded the old token hashes" in out.err
    assert TokenStore(project).verify(out.out.strip()) == "qa"
    assert legacy_secrets(project) == []
