from __future__ import annotations

from pathlib import Path

import pytest

from agentdock import paths
from agentdock.gitgate.errors import ConfigError, Refused
from agentdock.gitgate.facts import ProtectedPath, RepoFacts
from agentdock.gitgate.policy import judge
from agentdock.gitgate.server import DEFAULT_PORT, _parser, resolve_config


def _resolve(root: Path, *argv: str) -> tuple:  # type: ignore[type-arg]
    args = _parser().parse_args(["--project-root", str(root), *argv])
    return resolve_config(args, {"PATH": "/usr/bin", "HOME": "/home/x", "SECRET": "s", "QMS_USER": "qa"})


def test_configuration_is_resolved_once_into_frozen_values(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    config, options = _resolve(tmp_path, "--protect", "QMS", "--protect", str(tmp_path / "docs/specs"))
    assert config.protect == ("QMS", "docs/specs")
    assert config.env["GIT_TERMINAL_PROMPT"] == "0" and "SECRET" not in config.env
    assert config.audit_file == paths.run_dir(tmp_path.resolve()) / "git-mcp-audit.jsonl"
    assert options.hosts == ("127.0.0.1",) and options.port == DEFAULT_PORT
    assert options.stdio_user == "qa"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--protect", "../elsewhere"), "outside the project root"),
        (("--protect", "."), "project root itself"),
        (("--timeout", "0"), "positive"),
        (("--host", "a,,b"), "empty host"),
    ],
)
def test_bad_configuration_is_a_clear_error(tmp_path: Path, argv: tuple[str, ...], message: str) -> None:
    (tmp_path / ".git").mkdir()
    with pytest.raises(ConfigError, match=message):
        _resolve(tmp_path, *argv)


def test_a_protected_directory_is_guarded_from_names_patterns_and_minus_c(tmp_path: Path) -> None:
    (tmp_path / "QMS").mkdir()
    facts = RepoFacts(
        root=tmp_path, protected=(ProtectedPath("QMS", "protected"),), remotes=frozenset({"origin"})
    )
    for command in (
        "add QMS/SOP-001.md",
        "rm --cached '*.md'",
        "-C QMS status",
        "commit -m x -- QMS",
        "restore QMS/x",
    ):
        with pytest.raises(Refused) as info:
            judge(command, facts)
        assert info.value.rule == "protected-path", command
    assert judge("add README.md 'src/*.md'", facts)
    narrowed = judge("add '*.md'", facts)[0]
    assert narrowed.argv[-2:] == ("--", ":(top,exclude,literal)QMS")
    assert judge("commit -m 'QMS/SOP-001.md updated'", facts)
