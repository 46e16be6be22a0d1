from __future__ import annotations

from pathlib import Path

import pytest

from agentdock.auth import IdempotencyConflict, IdempotencyStore


def test_a_reused_key_returns_the_first_result_without_applying_again(tmp_path: Path) -> None:
    store = IdempotencyStore(tmp_path, "qms")
    calls: list[int] = []

    def apply() -> dict[str, object]:
        calls.append(1)
        return {"n": len(calls)}

    assert store.run("claude", "k1", "create", {"t": "x"}, apply) == ({"n": 1}, False)
    assert IdempotencyStore(tmp_path, "qms").run("claude", "k1", "create", {"t": "x"}, apply) == (
        {"n": 1},
        True,
    )
    assert len(calls) == 1


def test_keys_are_scoped_per_agent_and_absent_keys_always_apply(tmp_path: Path) -> None:
    store = IdempotencyStore(tmp_path, "qms")
    counter = iter(range(100))

    def apply() -> dict[str, object]:
        return {"n": next(counter)}

    assert store.run("claude", "k", "op", {}, apply)[0] == {"n": 0}
    assert store.run("qa", "k", "op", {}, apply)[0] == {"n": 1}
    assert store.run("qa", None, "op", {}, apply)[0] == {"n": 2}
    assert store.run("qa", None, "op", {}, apply)[0] == {"n": 3}


def test_a_key_reused_with_other_arguments_is_a_conflict(tmp_path: Path) -> None:
    store = IdempotencyStore(tmp_path, "qms")
    store.run("claude", "k", "create", {"title": "a"}, lambda: {"ok": True})
    with pytest.raises(IdempotencyConflict, match="different arguments"):
        store.run("claude", "k", "create", {"title": "b"}, lambda: {"ok": True})


def test_malformed_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(IdempotencyConflict):
        IdempotencyStore(tmp_path, "qms").run("claude", "bad key", "op", {}, lambda: {})
