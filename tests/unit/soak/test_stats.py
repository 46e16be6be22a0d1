from __future__ import annotations

import pytest

from agentdock.soak.stats import percentile, summarize_latencies, wilson_interval, z_for_confidence


def test_forty_out_of_forty_only_shows_about_ninety_one_percent_at_95_confidence() -> None:
    interval = wilson_interval(40, 40)
    assert interval.lower == pytest.approx(0.91238, abs=1e-5)
    assert interval.upper == 1.0


def test_wilson_interval_matches_the_textbook_value_for_eight_of_ten() -> None:
    interval = wilson_interval(8, 10)
    assert interval.lower == pytest.approx(0.4902, abs=1e-4)
    assert interval.upper == pytest.approx(0.9433, abs=1e-4)


def test_wilson_interval_is_symmetric_between_successes_and_failures() -> None:
    for successes in range(0, 21):
        a = wilson_interval(successes, 20)
        b = wilson_interval(20 - successes, 20)
        assert a.lower == pytest.approx(1.0 - b.upper, abs=1e-12)


def test_two_hundred_clean_launches_raise_the_lower_bound_above_ninety_eight_percent() -> None:
    assert wilson_interval(200, 200).lower == pytest.approx(0.98115, abs=1e-5)


def test_zero_successes_starts_at_zero_and_no_trials_knows_nothing() -> None:
    assert wilson_interval(0, 10).lower == 0.0
    assert wilson_interval(0, 10).upper == pytest.approx(0.2775, abs=1e-4)
    empty = wilson_interval(0, 0)
    assert (empty.lower, empty.upper) == (0.0, 1.0)


def test_wider_confidence_gives_a_wider_interval() -> None:
    assert wilson_interval(45, 50, 0.99).lower < wilson_interval(45, 50, 0.95).lower
    assert z_for_confidence(0.95) == pytest.approx(1.959964, abs=1e-6)


@pytest.mark.parametrize(("successes", "trials"), [(-1, 5), (6, 5), (1, -1)])
def test_impossible_counts_are_refused(successes: int, trials: int) -> None:
    with pytest.raises(ValueError, match="successes <= trials"):
        wilson_interval(successes, trials)


def test_confidence_outside_zero_and_one_is_refused() -> None:
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, 1.0)


def test_percentile_interpolates_linearly_between_closest_ranks() -> None:
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([10, 20, 30, 40, 50], 95) == pytest.approx(48.0)
    assert percentile([10, 20, 30, 40, 50], 0) == 10
    assert percentile([10, 20, 30, 40, 50], 100) == 50
    assert percentile([7.5], 99) == 7.5


def test_percentile_of_nothing_or_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_latency_summary_ignores_steps_that_never_ran() -> None:
    summary = summarize_latencies([None, 10.0, 20.0, None, 30.0])
    assert summary.count == 3
    assert (summary.min, summary.p50, summary.max, summary.mean) == (10.0, 20.0, 30.0, 20.0)
    assert summary.p99 == pytest.approx(29.8)
    empty = summarize_latencies([None])
    assert empty.count == 0
    assert empty.p50 is None
