"""A path whose links change while it is resolved is refused, never an unhandled error
(the race test in tests/security/gitgate/test_symlinks.py hit Python's realpath raising)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentdock.gitgate.errors import Refused
from agentdock.gitgate.views import settled_realpath


def test_a_plain_path_resolves(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink("real", tmp_path / "link")
    assert settled_realpath(tmp_path / "link" / "x") == str(tmp_path / "real" / "x")


def test_a_transient_race_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = os.path.realpath

    def flaky(path: object) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real(path)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr("agentdock.gitgate.views.os.path.realpath", flaky)
    assert settled_realpath(tmp_path) == str(tmp_path)


def test_a_path_that_keeps_changing_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def always(path: object) -> str:
        raise FileNotFoundError(2, "No such file or directory", str(path))

    monkeypatch.setattr("agentdock.gitgate.views.os.path.realpath", always)
    with pytest.raises(Refused, match=r"outside-project.*keeps changing"):
        settled_realpath(tmp_path / "d")
