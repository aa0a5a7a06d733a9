"""The benchmark regression guard's comparison (benchmarks/guard.py): pure, nothing timed."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import guard  # noqa: E402


def fig(value, better):
    return {"value": value, "better": better}


def test_slower_seconds_beyond_threshold_are_reported_with_the_ratio():
    old = {"solve 8 seeds s": fig(10.0, "lower")}
    assert guard.regressions(old, {"solve 8 seeds s": fig(12.5, "lower")}) == [
        "solve 8 seeds s: 10 -> 12.5 (1.25x)"
    ]
    assert guard.regressions(old, {"solve 8 seeds s": fig(11.9, "lower")}) == []
    assert guard.regressions(old, {"solve 8 seeds s": fig(5.0, "lower")}) == []


def test_fewer_steps_per_second_beyond_threshold_are_reported():
    old = {"env steps/s": fig(100_000, "higher")}
    # 80,000 is 1.25x worse (old / new), beyond 20%; 85,000 is 1.18x worse.
    assert guard.regressions(old, {"env steps/s": fig(80_000, "higher")}) == [
        "env steps/s: 100000 -> 80000 (0.80x)"
    ]
    assert guard.regressions(old, {"env steps/s": fig(85_000, "higher")}) == []
    assert guard.regressions(old, {"env steps/s": fig(300_000, "higher")}) == []


def test_figures_missing_on_either_side_are_skipped_and_zero_is_infinitely_worse():
    old = {"a": fig(8, "higher"), "b": fig(1.0, "lower")}
    new = {"a": fig(0, "higher"), "c": fig(99.0, "lower")}
    assert guard.regressions(old, new) == ["a: 8 -> 0 (0.00x)"]
    assert guard.worse_factor(0.0, 0.0, "lower") == 1.0


def test_threshold_is_a_parameter():
    old = {"t": fig(10.0, "lower")}
    assert guard.regressions(old, {"t": fig(10.6, "lower")}, threshold=0.05) != []
