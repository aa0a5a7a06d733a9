"""The regression guard's comparison: pure functions, no timing (tests/test_bench_guard.py).

A *figure* is a named number with a direction: `{"value": 11.3, "better": "lower"}`.
A figure regressed when it is more than `threshold` worse than the recorded one: for
"lower" figures (seconds) new / old > 1 + threshold, for "higher" figures (env steps per
second, seeds solved) old / new > 1 + threshold. The ratio printed is always new / old.
"""

from __future__ import annotations

import math

THRESHOLD = 0.2


def worse_factor(old: float, new: float, better: str) -> float:
    """How many times worse `new` is than `old` (above 1: worse; at or below 1: not)."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    if better == "lower":
        if old <= 0:
            return math.inf if new > old else 1.0
        return new / old
    if new <= 0:
        return math.inf if old > 0 else 1.0
    return old / new


def regressions(
    old: dict[str, dict], new: dict[str, dict], threshold: float = THRESHOLD
) -> list[str]:
    """One line "figure: old -> new (new/old ratio)" per figure present in both and more
    than `threshold` worse in `new`, in `new`'s order. Figures in only one are skipped."""
    lines = []
    for name, fig in new.items():
        if name not in old:
            continue
        before, after = float(old[name]["value"]), float(fig["value"])
        if worse_factor(before, after, fig["better"]) > 1 + threshold:
            ratio = after / before if before else math.inf
            lines.append(f"{name}: {before:g} -> {after:g} ({ratio:.2f}x)")
    return lines
