"""The QMS inside an agent container: its private state is masked, the launcher hands over the
roster digest the host confirmed, and reads that need the private state say so clearly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentdock import paths
from agentdock.launcher.layout import _roster_pin
from agentdock.qms.cli import main
from agentdock.qms.project import init_project
from agentdock.qms.roster import PIN_ENV, Roster


@pytest.fixture
def masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A project whose private state is replaced by an empty folder, as the container mask shows it."""
    root = tmp_path / "p"
    init_project(root)
    digest = Roster(root).pinned_digest()
    assert digest
    shutil.rmtree(paths.state_dir(root))
    paths.state_dir(root).mkdir()
    return root, digest


def test_without_the_handed_digest_the_roster_is_unconfirmed(
    masked: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = masked
    monkeypatch.delenv(PIN_ENV, raising=False)
    assert main(["--project-root", str(root), "--user", "qa", "inbox"]) == 1
    assert "roster.unconfirmed" in capsys.readouterr().err


def test_with_the_handed_digest_the_inbox_reads(
    masked: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, digest = masked
    monkeypatch.setenv(PIN_ENV, digest)
    assert main(["--project-root", str(root), "--user", "qa", "inbox"]) == 0


def test_a_wrong_handed_digest_refuses(
    masked: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = masked
    monkeypatch.setenv(PIN_ENV, "0" * 64)
    assert main(["--project-root", str(root), "--user", "qa", "inbox"]) == 1
    assert "roster.changed" in capsys.readouterr().err


def test_the_launcher_hands_over_the_confirmed_digest(tmp_path: Path) -> None:
    root = tmp_path / "p"
    init_project(root)
    assert _roster_pin(root) == {PIN_ENV: Roster(root).pinned_digest()}
    (paths.state_dir(root) / "qms" / "roster.sha256").unlink()
    assert _roster_pin(root) == {}


def test_a_read_that_needs_the_private_state_says_so(
    masked: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, digest = masked
    monkeypatch.setenv(PIN_ENV, digest)

    def denied(*_: object, **__: object) -> None:
        raise PermissionError(13, "Permission denied", str(paths.state_dir(root) / "locks"))

    monkeypatch.setattr("agentdock.qms.service.Qms.status", denied)
    assert main(["--project-root", str(root), "--user", "qa", "status"]) == 1
    err = capsys.readouterr().err
    assert "state.unreadable" in err and "qms MCP tools" in err and "Traceback" not in err
