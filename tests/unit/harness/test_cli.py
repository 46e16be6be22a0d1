"""``agentdock faults``: argument and plan errors exit 2 with a clear message; kinds are listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdock.harness.cli import main
from agentdock.harness.http.model import FAULTS
from agentdock.harness.tcp.toxics import TOXICS


def test_kinds_lists_every_fault_kind_and_toxic_type(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kinds"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in [*FAULTS, *TOXICS])


def test_a_bad_plan_file_exits_2_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("faults:\n  - kind: sttus\n")
    assert main(["serve", "--plan", str(plan), "--port", "0"]) == 2
    assert "unknown fault kind 'sttus'" in capsys.readouterr().err


def test_a_missing_plan_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--plan", str(tmp_path / "none.yaml"), "--port", "0"]) == 2
    assert "cannot read plan" in capsys.readouterr().err


def test_a_bad_port_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--listen", "nowhere", "--upstream", "127.0.0.1:1"], "--listen must be HOST:PORT"),
        (["--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:x"], "--upstream must be HOST:PORT"),
        (
            ["--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--toxic", "lag"],
            "unknown toxic type 'lag'",
        ),
        (
            ["--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--control", "x"],
            "--control must be HOST:PORT",
        ),
    ],
)
def test_bad_proxy_arguments_exit_2_naming_the_argument(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["proxy", *args]) == 2
    assert needle in capsys.readouterr().err


def test_serve_requires_a_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 2  # a usage error is an exit code, never a SystemExit escaping main
    assert "--port" in capsys.readouterr().err
