"""The Docker fixture layer decides skip-vs-fail from CI=true; the engine check translates errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agentdock.launcher.engine import DockerUnavailable, docker_engine, in_ci

REPO = Path(__file__).resolve().parents[3]


def test_missing_engine_raises_docker_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(DockerUnavailable), docker_engine(timeout_s=2):
        pass


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("", False), ("false", False)])
def test_ci_flag_is_read_from_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci() is expected


def _run_docker_marked_test(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_needs_docker.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.docker
            def test_needs_engine():
                pass
            """
        )
    )
    (tmp_path / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    env = {"PATH": "/usr/bin:/bin", "CI": ci, "DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", str(test_file)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )


def test_docker_marked_test_skips_with_reason_outside_ci(tmp_path: Path) -> None:
    result = _run_docker_marked_test(tmp_path, ci="")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "no Docker engine answers" in result.stdout


def test_docker_marked_test_fails_in_ci_when_engine_is_missing(tmp_path: Path) -> None:
    result = _run_docker_marked_test(tmp_path, ci="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CI=true but no Docker engine answers" in result.stdout
