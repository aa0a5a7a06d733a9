"""Per-seed summaries of a `TrainResult`, in plain Python numbers (for logs, JSON, tables)."""

from __future__ import annotations

from typing import Any

import numpy as np

from purejaxdqn.train import TrainResult

NOTEBOOK_THRESHOLD = 195.0  # the notebook's criterion: last-100 training mean >= 195


def seed_summaries(result: TrainResult) -> list[dict[str, Any]]:
    """One dict per seed: final greedy return, solved flags, the env step it solved at."""
    config = result.config
    threshold = config.resolved_solve_threshold
    m = {k: np.asarray(v) for k, v in result.metrics._asdict().items()}
    final = np.asarray(result.final_eval_returns)
    if final.ndim == 1:  # one seed: add the seed axis
        m = {k: v[None] for k, v in m.items()}
        final = final[None]
    out = []
    for i in range(final.shape[0]):
        eval_mean = m["eval_return_mean"][i]
        train_mean = m["episode_return_mean"][i]
        reached = (
            np.flatnonzero(eval_mean >= threshold) if threshold is not None else np.array([], int)
        )
        notebook = np.flatnonzero((train_mean >= NOTEBOOK_THRESHOLD) & (m["episodes"][i] >= 100))
        final_mean = float(final[i].mean())
        out.append(
            {
                "seed_index": i,
                "final_eval_return": final_mean,
                "final_eval_std": float(final[i].std()),
                "solved": bool(threshold is not None and final_mean >= threshold),
                "solve_env_step": int(m["env_step"][i][reached[0]]) if len(reached) else None,
                "notebook_solve_env_step": int(m["env_step"][i][notebook[0]])
                if len(notebook)
                else None,
                "frozen": bool(m["frozen"][i][-1]),
                "diverged": bool(m["diverged"][i][-1]),
                "diverged_env_step": _diverged_step(result, i, final.shape[0]),
                "env_steps": int(m["env_step"][i][-1]),
            }
        )
    return out


def _diverged_step(result: TrainResult, i: int, num_seeds: int) -> int | None:
    steps = np.asarray(result.state.progress.diverged_step).reshape(num_seeds)
    return int(steps[i]) if steps[i] >= 0 else None
