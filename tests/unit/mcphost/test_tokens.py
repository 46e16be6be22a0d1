from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from agentdock import paths
from agentdock.mcphost import TokenStore, TokenStoreError, UnknownAgent
from agentdock.mcphost.cli import main as token_main


def test_ensure_creates_a_token_only_the_agent_file_holds_in_plain(project: Path) -> None:
    store = TokenStore(project)
    token = store.ensure("claude")
    token_file = paths.agent_token_file(project, "claude")
    assert token_file.read_text().strip() == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    stored = paths.token_store_file(project).read_text()
    assert token not in stored
    assert "claude" in json.loads(stored)["agents"]
    assert stat.S_IMODE(paths.token_store_file(project).stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.project_data_dir(project).stat().st_mode) == 0o700
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    for secret in (token_file, paths.token_store_file(project)):
        assert not secret.is_relative_to(project)


def test_ensure_returns_the_existing_token_and_verify_names_its_agent(project: Path) -> None:
    store = TokenStore(project)
    first = store.ensure("claude")
    assert store.ensure("claude") == first
    other = store.ensure("qa")
    assert other != first
    assert store.verify(first) == "claude"
    assert TokenStore(project).verify(other) == "qa"


def test_wrong_or_empty_tokens_verify_to_nobody(project: Path) -> None:
    store = TokenStore(project)
    token = store.ensure("claude")
    assert store.verify(token + "x") is None
    assert store.verify("") is None
    assert store.verify(token[:-1]) is None


def test_rotate_invalidates_the_old_token_even_for_a_store_opened_earlier(project: Path) -> None:
    server_view = TokenStore(project)
    old = TokenStore(project).ensure("claude")
    assert server_view.verify(old) == "claude"
    new = TokenStore(project).rotate("claude")
    assert new != old
    assert server_view.verify(old) is None
    assert server_view.verify(new) == "claude"
    assert paths.agent_token_file(project, "claude").read_text().strip() == new


def test_a_token_file_that_does_not_match_the_store_is_replaced_not_adopted(project: Path) -> None:
    store = TokenStore(project)
    store.ensure("claude")
    forged = "adk_chosen-by-the-agent"
    paths.agent_token_file(project, "claude").write_text(forged)
    issued = store.ensure("claude")
    assert issued != forged
    assert store.verify(forged) is None
    assert store.verify(issued) == "claude"


@pytest.mark.parametrize("name", ["nobody", "../claude", "Claude", "", "a/b"])
def test_unknown_or_malformed_agents_are_refused_and_nothing_is_written(project: Path, name: str) -> None:
    with pytest.raises(UnknownAgent):
        TokenStore(project).ensure(name)
    assert not paths.token_store_file(project).exists()


def test_a_store_readable_by_others_verifies_nothing(project: Path) -> None:
    store = TokenStore(project)
    token = store.ensure("claude")
    paths.token_store_file(project).chmod(0o644)
    assert store.verify(token) is None


def test_a_corrupt_store_is_reported_not_overwritten(project: Path) -> None:
    paths.project_data_dir(project).mkdir(mode=0o700, parents=True)
    paths.token_store_file(project).write_text("{not json")
    with pytest.raises(TokenStoreError):
        TokenStore(project).ensure("claude")
    assert paths.token_store_file(project).read_text() == "{not json"


def test_token_cli_prints_the_same_token_until_rotated(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert token_main(["claude", "--project-root", str(project)]) == 0
    first = capsys.readouterr().out.strip()
    assert token_main(["claude", "--project-root", str(project)]) == 0
    assert capsys.readouterr().out.strip() == first
    assert token_main(["claude", "--project-root", str(project), "--rotate"]) == 0
    rotated = capsys.readouterr().out.strip()
    assert rotated != first
    assert TokenStore(project).verify(rotated) == "claude"


def test_token_cli_refuses_an_unknown_agent_with_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert token_main(["ghost", "--project-root", str(project)]) == 2
    assert "unknown agent 'ghost'" in capsys.readouterr().err
