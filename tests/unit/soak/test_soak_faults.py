from __future__ import annotations

import pytest

from agentdock.soak.errors import SoakConfigError
from agentdock.soak.profiles import PROFILES, LaunchFaults, launch_seed, profile_named


def test_the_four_profiles_exist() -> None:
    assert list(PROFILES) == ["none", "flaky", "restart", "hostile"]


def test_the_same_seed_draws_the_same_faults() -> None:
    for profile in PROFILES.values():
        assert [profile.draw(s) for s in range(50)] == [profile.draw(s) for s in range(50)]


def test_different_seeds_draw_different_faults() -> None:
    draws = {profile_named("flaky").draw(s) for s in range(50)}
    assert len(draws) > 40


def test_none_injects_nothing() -> None:
    assert all(not profile_named("none").draw(s).any for s in range(20))
    assert LaunchFaults().to_json()["restart_after_ms"] is None


def test_flaky_always_adds_latency_and_resets_and_sometimes_503_bursts_but_never_restarts() -> None:
    draws = [profile_named("flaky").draw(s) for s in range(200)]
    assert all(d.latency_ms > 0 and d.reset_probability > 0 for d in draws)
    assert all(d.restart_after_ms is None for d in draws)
    with_burst = sum(1 for d in draws if d.http_503_burst)
    assert 60 < with_burst < 140


def test_restart_restarts_the_servers_in_about_half_the_launches_and_injects_nothing_else() -> None:
    draws = [profile_named("restart").draw(s) for s in range(200)]
    restarts = [d for d in draws if d.restart_after_ms is not None]
    assert 60 < len(restarts) < 140
    assert all(0 <= d.restart_after_ms <= 3000 for d in restarts)  # type: ignore[operator]
    assert all(d.latency_ms == 0 and d.reset_probability == 0 and d.http_503_burst == 0 for d in draws)


def test_hostile_is_harder_than_flaky_on_every_axis() -> None:
    flaky = [profile_named("flaky").draw(s) for s in range(100)]
    hostile = [profile_named("hostile").draw(s) for s in range(100)]
    assert min(d.reset_probability for d in hostile) >= max(d.reset_probability for d in flaky) - 0.05
    assert all(d.http_503_burst >= 2 for d in hostile)
    assert any(d.restart_after_ms is not None for d in hostile)


def test_an_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(SoakConfigError, match="none, flaky, restart, hostile"):
        profile_named("chaotic")


def test_launch_seeds_are_stable_and_distinct_per_index_and_run() -> None:
    assert launch_seed(42, 3) == launch_seed(42, 3)
    assert len({launch_seed(42, i) for i in range(1000)}) == 1000
    assert launch_seed(42, 3) != launch_seed(43, 3)
