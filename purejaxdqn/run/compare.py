"""Comparing runs the way the field now expects (Agarwal et al. 2021, "Deep RL at the Edge
of the Statistical Precipice"), with `rliable`: median, interquartile mean, mean and
optimality gap over seeds, each with a stratified bootstrap 95% interval, and the
probability that one run's seeds beat another's.

An entry is a run directory, or one setting of a sweep. Scores are normalised by
(random policy's return, solve threshold) for the optimality gap and the performance
profile, where the env has a threshold; the median, IQM and mean are of the raw metric.
The bootstrap's repetitions and random state are arguments, and recorded in the output:
the same inputs give the same intervals.
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

REPS = 2000  # bootstrap repetitions
RANDOM_STATE = 0
AGGREGATES = ("median", "iqm", "mean")
RETURN_METRICS = ("final_eval_return",)  # normalisable: returns of the greedy policy


class Entry(NamedTuple):
    """One compared thing: a run, or a setting of a sweep."""

    name: str
    env_id: str
    scores: np.ndarray  # (seeds,) the metric of each seed
    env_steps: np.ndarray  # (periods,)
    curves: np.ndarray  # (seeds, periods) greedy return at each period (held after a stop)
    threshold: float | None


def aggregate(scores: np.ndarray) -> np.ndarray:
    """[median, IQM, mean] of (runs, tasks) scores: the function the bootstrap repeats."""
    from rliable import metrics

    return np.array(
        [
            metrics.aggregate_median(scores),
            metrics.aggregate_iqm(scores),
            metrics.aggregate_mean(scores),
        ]
    )


def optimality_gap(scores: np.ndarray) -> np.ndarray:
    from rliable import metrics

    return np.array([metrics.aggregate_optimality_gap(scores)])


def interval_estimates(
    scores: dict[str, np.ndarray],
    func: Any = aggregate,
    reps: int = REPS,
    random_state: int = RANDOM_STATE,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """rliable's point estimates and (2, ...) 95% intervals of `func` for each entry's
    (seeds,) or (seeds, tasks) scores, one random state for them all (as rliable takes it)."""
    matrices = {k: np.asarray(v, np.float64).reshape(len(v), -1) for k, v in scores.items()}
    return _bootstrap(matrices, func, reps, random_state)


def _bootstrap(scores: dict, func: Any, reps: int, random_state: int) -> tuple[dict, dict]:
    """`rliable.library.get_interval_estimates` with `random_state` honoured.

    rliable's stratified bootstraps draw their resampling indices from NumPy's global
    generator, not from the `random_state` they take: that generator is seeded with it
    too for the call, and restored afterwards."""
    from rliable import library

    saved = np.random.get_state()
    np.random.seed(random_state)
    try:
        with warnings.catch_warnings():  # arch's notice that RandomState goes
            warnings.filterwarnings("ignore", "random_state is deprecated", FutureWarning)
            return library.get_interval_estimates(
                scores, func, reps=reps, random_state=np.random.RandomState(random_state)
            )
    finally:
        np.random.set_state(saved)


def iqm_interval(
    scores: dict[str, np.ndarray], reps: int = REPS, random_state: int = RANDOM_STATE
) -> dict[str, tuple[float, float, float]]:
    """(IQM, low, high) per entry: what `compare` prints and sweep.csv holds."""
    points, intervals = interval_estimates(scores, aggregate, reps, random_state)
    return {
        k: (float(points[k][1]), float(intervals[k][0, 1]), float(intervals[k][1, 1]))
        for k in scores
    }


def entries(path: Path, metric: str = "final_eval_return") -> list[Entry]:
    """The entries of a run directory (one, or one per sweep setting), from summary.json
    and metrics.csv."""
    from purejaxdqn.run import run_dir

    config, info = run_dir.load_run(path)
    try:
        summary = json.loads((path / "summary.json").read_text())
        rows = list(csv.DictReader((path / "metrics.csv").open()))
    except FileNotFoundError:
        raise ValueError(f"{path}: has not finished (no summary.json); resume it first") from None
    if metric not in summary or not isinstance(summary[metric], list):
        choices = sorted(k for k, v in summary.items() if isinstance(v, list) and k != "settings")
        raise ValueError(f"--metric {metric}: not a per-seed result; choose from {choices}")
    values = summary[metric]
    missing = [i for i, v in enumerate(values) if not isinstance(v, int | float)]
    if missing:
        raise ValueError(
            f"--metric {metric}: seed {missing[0]} of {path} has none (e.g. never solved); "
            "choose another metric"
        )
    num_seeds, settings = info["num_seeds"], info.get("settings")
    steps = np.array(sorted({int(r["env_step"]) for r in rows}))
    curves = np.full((len(values), len(steps)), np.nan)
    for r in rows:
        curves[int(r["run"]), np.searchsorted(steps, int(r["env_step"]))] = float(
            r["eval_return_mean"]
        )
    for row in curves:  # a frozen or diverged seed keeps its last policy: hold its return
        for p in range(1, len(row)):
            if np.isnan(row[p]):
                row[p] = row[p - 1]
    out = []
    for s in range(len(settings) if settings else 1):
        part = slice(s * num_seeds, (s + 1) * num_seeds)
        name = path.name if not settings else f"{path.name}/setting_{s}"
        out.append(
            Entry(
                name,
                config.env_id,
                np.array(values[part], np.float64),
                steps,
                curves[part],
                config.resolved_solve_threshold,
            )
        )
    return out


def normalise(entry: Entry, baselines: dict[str, dict[str, float]]) -> np.ndarray:
    """(seeds,) scores as a fraction of the way from the random policy to the threshold."""
    b = baselines[entry.env_id]
    return (entry.scores - b["random_return"]) / (b["threshold"] - b["random_return"])


def random_return(env_id: str, episodes: int = 100, seed: int = 0) -> float:
    """Mean return of the uniform random policy over `episodes` episodes (fixed key)."""
    import jax

    from purejaxdqn.core import envs
    from purejaxdqn.core.evaluation import make_random_returns

    env, env_params = envs.make_env(env_id)
    returns = make_random_returns(
        env, env_params, envs.num_discrete_actions(env, env_params), episodes
    )
    return float(np.mean(jax.jit(returns)(jax.random.key(seed))))


def compare(
    found: list[Entry],
    metric: str = "final_eval_return",
    reps: int = REPS,
    random_state: int = RANDOM_STATE,
) -> dict[str, Any]:
    """Aggregates with intervals per entry, and the probability of improvement of each
    pair, as one JSON-able dict (the options it used included)."""
    names = [e.name for e in found]
    if len(set(names)) != len(names):
        raise ValueError(
            f"two entries are named alike ({names}); give run directories of their own names"
        )
    notes = [
        f"{e.name}: one seed, so its intervals are that seed's value (no spread)"
        for e in found
        if len(e.scores) < 2
    ]
    points, intervals = interval_estimates(
        {e.name: e.scores for e in found}, aggregate, reps, random_state
    )
    rows = []
    for e in found:
        row: dict[str, Any] = {"name": e.name, "env_id": e.env_id, "seeds": len(e.scores)}
        for i, agg in enumerate(AGGREGATES):
            row[agg] = float(points[e.name][i])
            row[f"{agg}_ci"] = [float(intervals[e.name][0, i]), float(intervals[e.name][1, i])]
        rows.append(row)
    baselines = _optimality_gaps(found, metric, rows, notes, reps, random_state)
    return {
        "metric": metric,
        "bootstrap": {
            "reps": reps,
            "random_state": random_state,
            "method": "percentile",
            "confidence": 0.95,
            "stratified": "over seeds (rliable.library)",
        },
        "normalisation": baselines,
        "entries": rows,
        "probability_of_improvement": _improvements(found, reps, random_state),
        "notes": notes,
    }


def _optimality_gaps(
    found: list[Entry],
    metric: str,
    rows: list[dict],
    notes: list[str],
    reps: int,
    random_state: int,
) -> dict[str, dict[str, float]]:
    """Adds each normalisable entry's optimality gap to its row (a note where there is
    none); returns the baselines per env."""
    if metric not in RETURN_METRICS:
        notes.append(f"{metric} is not a return: no normalisation, no optimality gap")
        return {}
    baselines: dict[str, dict[str, float]] = {}
    normalised = {}
    for e in found:
        if e.threshold is None:
            notes.append(f"{e.name}: {e.env_id} has no solve threshold; no optimality gap")
            continue
        if e.env_id not in baselines:
            baselines[e.env_id] = {
                "random_return": random_return(e.env_id),
                "threshold": e.threshold,
            }
        normalised[e.name] = normalise(e, baselines)
    if normalised:
        points, intervals = interval_estimates(normalised, optimality_gap, reps, random_state)
        for row in rows:
            if row["name"] in points:
                row["optimality_gap"] = float(points[row["name"]][0])
                row["optimality_gap_ci"] = [float(x) for x in intervals[row["name"]][:, 0]]
    return baselines


def _improvements(found: list[Entry], reps: int, random_state: int) -> list[dict[str, Any]]:
    """P(X > Y) of every pair (X before Y in `found`), with its interval."""
    from rliable import metrics

    pairs = {
        f"{x.name} > {y.name}": (x.scores.reshape(-1, 1), y.scores.reshape(-1, 1))
        for i, x in enumerate(found)
        for y in found[i + 1 :]
    }
    if not pairs:
        return []
    improves = lambda x, y: np.array([metrics.probability_of_improvement(x, y)])  # noqa: E731
    points, intervals = _bootstrap(pairs, improves, reps, random_state)
    out = []
    for key in pairs:
        x, y = key.split(" > ")
        out.append(
            {
                "x": x,
                "y": y,
                "probability": float(points[key][0]),
                "ci": [float(v) for v in intervals[key][:, 0]],
            }
        )
    return out


def format_table(result: dict[str, Any]) -> str:
    def cell(row: dict, key: str) -> str:
        if key not in row:
            return f"{'-':>22}"
        low, high = row[f"{key}_ci"]
        return f"{row[key]:>8.3g} [{low:.3g}, {high:.3g}]".rjust(22)

    b = result["bootstrap"]
    lines = [
        f"{result['metric']}: stratified bootstrap 95% intervals, {b['reps']} repetitions, "
        f"random state {b['random_state']} (rliable)",
        f"{'entry':<28}{'seeds':>6}" + "".join(f"{k:>22}" for k in (*AGGREGATES, "optimality_gap")),
    ]
    for row in result["entries"]:
        cells = "".join(cell(row, k) for k in (*AGGREGATES, "optimality_gap"))
        lines.append(f"{row['name']:<28}{row['seeds']:>6}{cells}")
    for env_id, b in result["normalisation"].items():
        lines.append(
            f"normalised for the gap: {env_id} (score - {b['random_return']:.1f}) / "
            f"({b['threshold']:.1f} - {b['random_return']:.1f}), random policy's return "
            "over 100 episodes"
        )
    for p in result["probability_of_improvement"]:
        low, high = p["ci"]
        lines.append(f"P({p['x']} > {p['y']}) = {p['probability']:.3f} [{low:.3f}, {high:.3f}]")
    lines.extend(f"note: {n}" for n in result["notes"])
    return "\n".join(lines)


def plot(
    found: list[Entry],
    result: dict[str, Any],
    path: Path,
    reps: int = 500,
    random_state: int = RANDOM_STATE,
) -> None:
    """compare.png: the interval estimates, the IQM of the greedy return against env steps
    (rliable's sample-efficiency curve, `reps` bootstrap repetitions a point) and, where
    scores normalise, the performance profile."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [e.name for e in found]
    colors = dict(zip(names, plt.rcParams["axes.prop_cycle"].by_key()["color"] * len(names)))
    panels = [k for k in (*AGGREGATES, "optimality_gap") if all(k in r for r in result["entries"])]
    profile = bool(result["normalisation"]) and "optimality_gap" in panels
    fig = plt.figure(figsize=(13, 3.0 + 0.35 * len(names) + 3.6), layout="constrained")
    grid = fig.add_gridspec(2, 4 * len(panels), height_ratios=[0.6 + 0.35 * len(names), 3.6])
    for i, key in enumerate(panels):
        _draw_intervals(fig.add_subplot(grid[0, 4 * i : 4 * i + 4]), result, key, colors, i == 0)
    width = 4 * len(panels) // (2 if profile else 1)
    _draw_curves(fig.add_subplot(grid[1, :width]), found, colors, reps, random_state)
    if profile:
        ax = fig.add_subplot(grid[1, width + 1 :])
        _draw_profile(ax, found, result["normalisation"], colors, reps, random_state)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _draw_intervals(ax: Any, result: dict, key: str, colors: dict, labels: bool) -> None:
    """One aggregate's intervals: a bar from low to high per entry, the point on it."""
    names = [row["name"] for row in result["entries"]]
    for y, row in enumerate(result["entries"]):
        low, high = row[f"{key}_ci"]
        ax.plot(
            [low, high], [y, y], color=colors[row["name"]], lw=9, alpha=0.6, solid_capstyle="butt"
        )
        ax.plot([row[key]], [y], marker="|", ms=16, mew=2, color="black")
    ax.set_yticks(range(len(names)), names if labels else [""] * len(names))
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.margins(x=0.15)
    ax.set_title(key.replace("_", " ").replace("iqm", "IQM"))


def _draw_curves(ax: Any, found: list[Entry], colors: dict, reps: int, random_state: int):
    from rliable import metrics, plot_utils

    def iqm_curve(s: np.ndarray) -> np.ndarray:  # (seeds, 1, periods) -> (periods,)
        return np.array([metrics.aggregate_iqm(s[..., f]) for f in range(s.shape[-1])])

    for e in found:
        points, intervals = _bootstrap(
            {e.name: e.curves[:, None, :]}, iqm_curve, reps, random_state
        )
        plot_utils.plot_sample_efficiency_curve(
            e.env_steps,
            points,
            intervals,
            algorithms=[e.name],
            colors=colors,
            ax=ax,
            xlabel="env steps",
            ylabel="IQM greedy return",
            labelsize="medium",
            ticklabelsize="small",
        )
    ax.legend(fontsize="small")
    ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 3))


def _draw_profile(
    ax: Any, found: list[Entry], baselines: dict, colors: dict, reps: int, random_state: int
) -> None:
    """rliable's performance profile of the normalised scores, with its intervals."""
    from rliable import library, plot_utils

    norm = {e.name: normalise(e, baselines)[:, None] for e in found}
    taus = np.linspace(0.0, 1.1, 45)

    def distribution(s: np.ndarray) -> np.ndarray:
        return library.score_distributions(s, taus)

    profiles, profile_cis = _bootstrap(norm, distribution, reps, random_state)
    plot_utils.plot_performance_profiles(
        profiles,
        taus,
        performance_profile_cis=profile_cis,
        colors=colors,
        xlabel=r"normalised score $\tau$",
        ax=ax,
        labelsize="medium",
        ticklabelsize="small",
    )
