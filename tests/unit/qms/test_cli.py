from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdock import paths
from agentdock.qms.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str, user: str = "claude") -> tuple[int, str, str]:
    code = main(list(argv), environ={"QMS_USER": user})
    out, err = capsys.readouterr()
    return code, out, err


def test_init_then_a_document_life_cycle_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "init", "--root", str(tmp_path))[0] == 0
    root = ["--project-root", str(tmp_path)]
    code, out, _ = run(capsys, *root, "--json", "create", "SOP", "--title", "Cleaning")
    assert code == 0 and json.loads(out)["data"]["id"] == "SOP-001"
    ws = paths.agent_workspace_dir(tmp_path, "claude") / "SOP-001.md"
    ws.write_text("---\ntitle: Cleaning\nrevision_summary: first\n---\nWipe.\n")
    assert run(capsys, *root, "checkin", "SOP-001")[0] == 0
    assert run(capsys, *root, "route", "SOP-001", "--review")[0] == 0
    code, out, _ = run(capsys, *root, "inbox", user="qa")
    assert code == 0 and "REVIEW" in out and "SOP-001" in out
    code, out, _ = run(capsys, *root, "--json", "inbox", user="qa")
    assert json.loads(out)["data"]["tasks"][0]["task_id"] == "task-SOP-001-review-v0-1"
    assert run(capsys, *root, "review", "SOP-001", "--recommend", user="qa")[0] == 0
    assert run(capsys, *root, "route", "SOP-001", "--approval")[0] == 0
    assert run(capsys, *root, "approve", "SOP-001", "--user", "qa", user="nobody")[0] == 0
    code, out, _ = run(capsys, *root, "status", "SOP-001")
    assert code == 0 and "EFFECTIVE" in out
    code, out, _ = run(capsys, *root, "read", "SOP-001")
    assert "Wipe." in out
    code, out, _ = run(capsys, *root, "history", "SOP-001")
    assert "EFFECTIVE" in out and "CREATE" in out


def test_refusals_exit_1_and_bad_usage_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "init", "--root", str(tmp_path))
    root = ["--project-root", str(tmp_path)]
    code, _, err = run(capsys, *root, "create", "SOP", "--title", "x", user="qa")
    assert code == 1 and "permission.create" in err
    code, _, err = run(capsys, *root, "status", "../etc")
    assert code == 2 and "id.format" in err
    assert run(capsys, *root, "route", "SOP-001")[0] == 2  # neither --review nor --approval
    assert run(capsys, *root, "frobnicate")[0] == 2
    code, out, _ = run(capsys, *root, "--json", "approve", "SOP-009", user="qa")
    assert code == 1 and json.loads(out)["rule"] == "document.unknown"


def test_the_root_is_found_by_walking_up_from_the_cwd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "init", "--root", str(tmp_path))
    monkeypatch.chdir(tmp_path / "QMS" / "SOP")
    code, out, _ = run(capsys, "status")
    assert code == 0 and "No documents" in out


def test_a_user_is_required(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "init", "--root", str(tmp_path))
    code = main(["--project-root", str(tmp_path), "status"], environ={})
    assert code == 2 and "no user" in capsys.readouterr().err
