"""The learning-curve figure of a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from purejaxdqn.train import TrainResult


def plot_learning_curve(result: TrainResult, path: Path) -> None:
    """Greedy eval return vs env steps: one faint line per seed, the mean bold with a 95%
    confidence band (normal approximation over seeds, clipped to the seeds' range), and the
    solve threshold dashed.

    A frozen (solved) seed keeps the return of its frozen policy for the rest of the grid.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = result.config
    returns = np.asarray(result.metrics.eval_return_mean)
    if returns.ndim == 1:
        returns = returns[None]
    # the run ended when all froze
    returns = returns[:, : int(np.max(result.state.progress.period))]
    grid = config.eval_frequency * np.arange(1, returns.shape[1] + 1)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for r in returns:
        ax.plot(grid, r, color="tab:blue", alpha=0.25, lw=1)
    mean = returns.mean(0)
    half = 1.96 * returns.std(0, ddof=1) / np.sqrt(len(returns)) if len(returns) > 1 else 0 * mean
    ax.plot(grid, mean, color="tab:blue", lw=2.5, label=f"mean of {len(returns)} seeds")
    low, high = np.maximum(mean - half, returns.min(0)), np.minimum(mean + half, returns.max(0))
    ax.fill_between(grid, low, high, color="tab:blue", alpha=0.2, label="95% CI")
    threshold = config.resolved_solve_threshold
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"solved ({threshold:g})")
    ax.set_xlabel("environment steps per seed")
    ax.set_ylabel(f"greedy return ({config.eval_episodes} episodes)")
    ax.set_title(f"purejaxdqn on {config.env_id}")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_sweep(rows: list[dict], config, path: Path) -> None:
    """Interquartile mean of the final greedy return per setting, with its bootstrap 95% CI,
    best first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fields = [k for k in rows[0] if k not in _SWEEP_STATS]
    labels = [", ".join(f"{k}={r[k]:.3g}" for k in fields) for r in rows]
    iqm = np.array([r["iqm_return"] for r in rows])
    err = np.array(
        [[r["iqm_return"] - r["iqm_ci_low"], r["iqm_ci_high"] - r["iqm_return"]] for r in rows]
    ).T
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.5), dpi=110)
    y = np.arange(len(rows))[::-1]
    ax.errorbar(iqm, y, xerr=err, fmt="o", color="tab:blue", capsize=3)
    ax.set_yticks(y, labels)
    threshold = config.resolved_solve_threshold
    if threshold is not None:
        ax.axvline(threshold, color="tab:red", ls="--", lw=1, label=f"solved ({threshold:g})")
        ax.legend(loc="lower left")
    ax.set_xlabel("final greedy return: IQM over seeds, 95% bootstrap CI")
    ax.set_title(f"purejaxdqn sweep on {config.env_id}")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


_SWEEP_STATS = {
    "setting",
    "solve_rate",
    "median_return",
    "iqm_return",
    "iqm_ci_low",
    "iqm_ci_high",
    "median_solve_env_step",
    "diverged",
}
