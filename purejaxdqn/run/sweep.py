"""Hyperparameter sweeps: settings of the traced fields x seeds, in one compiled program.

Only traced fields (`config.traced_fields()`) can vary inside one program: they are
values, vmapped like the seeds. A field that fixes shapes or loop counts is refused.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from purejaxdqn.config import DQNConfig, Hyperparams, from_number, traced_fields


def _check_field(name: str, flag: str) -> str:
    name = name.strip().replace("-", "_")
    if name not in traced_fields():
        raise ValueError(
            f"{flag} {name}: not sweepable in one compiled program (it fixes shapes or "
            f"loop counts, or is not a field); sweepable fields: {', '.join(traced_fields())}"
        )
    return name


def parse_grid(items: list[str]) -> dict[str, list[float]]:
    """`["learning_rate=1e-3,3e-4", ...]` -> {"learning_rate": [1e-3, 3e-4], ...}."""
    grid: dict[str, list[float]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not values:
            raise ValueError(f"--grid {item!r}: expected FIELD=V1,V2,...")
        name = _check_field(name, "--grid")
        try:
            grid[name] = [float(v) for v in values.split(",")]
        except ValueError:
            raise ValueError(f"--grid {item!r}: values must be numbers") from None
    return grid


def parse_ranges(items: list[str]) -> dict[str, tuple[float, float, str]]:
    """`["learning_rate=1e-4:1e-2:log"]` -> {"learning_rate": (1e-4, 1e-2, "log")}."""
    ranges: dict[str, tuple[float, float, str]] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        parts = spec.split(":")
        if not sep or len(parts) not in (2, 3):
            raise ValueError(f"--range {item!r}: expected FIELD=LOW:HIGH[:log|lin]")
        name = _check_field(name, "--range")
        scale = parts[2] if len(parts) == 3 else "lin"
        try:
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(f"--range {item!r}: LOW and HIGH must be numbers") from None
        if scale not in ("lin", "log") or not low < high or (scale == "log" and low <= 0):
            raise ValueError(f"--range {item!r}: need LOW < HIGH (both > 0 for log), scale lin|log")
        ranges[name] = (low, high, scale)
    return ranges


def make_settings(
    config: DQNConfig,
    grid: dict[str, list[float]],
    ranges: dict[str, tuple[float, float, str]],
    num_random: int,
    seed: int,
) -> list[dict[str, float]]:
    """The grid's product, times `num_random` draws from the ranges (or the grid alone).

    Each setting is validated as a config (a gamma of 2 is refused here, not mid-run).
    """
    names = list(grid)
    settings = [dict(zip(names, values)) for values in itertools.product(*grid.values())]
    if ranges:
        if num_random < 1:
            raise ValueError("--range needs --random N (the number of random settings)")
        rng = np.random.default_rng(seed)
        draws = []
        for _ in range(num_random):
            draw = {}
            for name, (low, high, scale) in ranges.items():
                if scale == "log":
                    draw[name] = float(math.exp(rng.uniform(math.log(low), math.log(high))))
                else:
                    draw[name] = float(rng.uniform(low, high))
            draws.append(draw)
        settings = [{**g, **d} for g in settings for d in draws]
    elif num_random:
        raise ValueError("--random N needs at least one --range FIELD=LOW:HIGH[:log]")
    for setting in settings:
        config.replace(**_typed(setting))
    return settings


def _typed(setting: dict[str, float]) -> dict[str, Any]:
    return {name: from_number(name, value) for name, value in setting.items()}


def stacked_hyperparams(
    config: DQNConfig, settings: list[dict[str, float]], num_seeds: int
) -> Hyperparams:
    """Hyperparams with a leading (settings * seeds,) axis, setting-major."""
    per_setting = [config.replace(**_typed(s)).hyperparams() for s in settings]
    runs = [hp for hp in per_setting for _ in range(num_seeds)]
    return jax.tree.map(lambda *x: jnp.stack(x), *runs)


def interquartile_mean(x: np.ndarray) -> float:
    """Mean of the middle 50% (Agarwal et al. 2021), rliable's."""
    from rliable import metrics

    return float(metrics.aggregate_iqm(np.asarray(x, float)))


def sweep_rows(
    settings: list[dict[str, float]], seeds: list[dict[str, Any]], num_seeds: int
) -> list[dict[str, Any]]:
    """One row per setting, best first (interquartile mean of final greedy return), its
    interval from `compare.iqm_interval` as `purejaxdqn compare` gives it."""
    from purejaxdqn.run import compare

    groups = [seeds[i * num_seeds : (i + 1) * num_seeds] for i in range(len(settings))]
    finals = {str(i): np.array([s["final_eval_return"] for s in g]) for i, g in enumerate(groups)}
    iqm = compare.iqm_interval(finals)
    rows = []
    for i, setting in enumerate(settings):
        group, final = groups[i], finals[str(i)]
        steps = [s["solve_env_step"] for s in group if s["solve_env_step"] is not None]
        _, low, high = iqm[str(i)]
        rows.append(
            {
                "setting": i,
                **setting,
                "solve_rate": float(np.mean([s["solved"] for s in group])),
                "median_return": float(np.median(final)),
                "iqm_return": interquartile_mean(final),
                "iqm_ci_low": low,
                "iqm_ci_high": high,
                "median_solve_env_step": float(np.median(steps)) if steps else None,
                "diverged": int(sum(s["diverged"] for s in group)),
            }
        )
    return sorted(rows, key=lambda r: (-r["iqm_return"], -r["solve_rate"]))
