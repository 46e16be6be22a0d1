"""The `agentdock` dispatcher routes subcommands to their packages and refuses unknown ones."""

from __future__ import annotations

import importlib

import pytest

from agentdock import cli


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.SUBCOMMANDS:
        assert f"  {name} " in out


def test_no_arguments_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: agentdock" in capsys.readouterr().out


def test_unknown_subcommand_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_subcommand_receives_the_remaining_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    class FakeModule:
        @staticmethod
        def main(argv: list[str]) -> int:
            seen.append(argv)
            return 7

    monkeypatch.setattr(importlib, "import_module", lambda name: FakeModule)
    assert cli.main(["token", "qa", "--project-root", "/x"]) == 7
    assert seen == [["qa", "--project-root", "/x"]]


@pytest.mark.parametrize("name", sorted(cli.SUBCOMMANDS))
def test_every_subcommand_target_exists(name: str) -> None:
    module_name, func_name, _ = cli.SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    assert callable(getattr(module, func_name))
