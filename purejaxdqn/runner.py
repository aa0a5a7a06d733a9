"""Runs a training in compiled chunks of eval periods, with a progress bar between them.

A chunked run is bit-for-bit the single `train(key)` call (tests/test_train.py): the
chunks only decide where control returns to Python.
"""

from __future__ import annotations

import math
import time
from typing import Any

import jax
import numpy as np

from purejaxdqn.compilation_cache import enable_compilation_cache
from purejaxdqn.config import DQNConfig
from purejaxdqn.train import TrainResult, make_trainer


def run_training(
    config: DQNConfig,
    num_seeds: int,
    seed: int = 0,
    chunks: int = 20,
    progress: bool = True,
    env: Any = None,
    env_params: Any = None,
) -> tuple[TrainResult, dict[str, float]]:
    """Trains `num_seeds` vmapped seeds; returns the result and timings in seconds."""
    enable_compilation_cache()
    trainer = make_trainer(config, env, env_params)
    hp = config.hyperparams()
    keys = jax.random.split(jax.random.key(seed), num_seeds)
    init = jax.jit(jax.vmap(trainer.init, in_axes=(0, None)))
    run = jax.jit(jax.vmap(trainer.run, in_axes=(0, None, None)))
    finish = jax.jit(jax.vmap(trainer.finish, in_axes=(0, None)))

    start = time.perf_counter()
    init_c = init.lower(keys, hp).compile()
    state_shape = jax.eval_shape(init, keys, hp)
    run_c = run.lower(state_shape, hp, 0).compile()
    finish_c = finish.lower(state_shape, hp).compile()
    compile_time = time.perf_counter() - start

    per_chunk = max(1, math.ceil(config.num_periods / chunks))
    bar = _progress_bar(config, num_seeds, progress)
    start = time.perf_counter()
    state = init_c(keys, hp)
    done_periods = 0
    while done_periods < config.num_periods:
        done_periods = min(done_periods + per_chunk, config.num_periods)
        state = run_c(state, hp, done_periods)
        steps = np.asarray(state.env_step)
        frozen = np.asarray(state.frozen)
        last = np.asarray(state.period) - 1
        evals = np.asarray(state.history.eval_return_mean)[np.arange(num_seeds), last]
        if bar is not None:
            bar.n = int(steps.sum())
            bar.set_postfix(eval_return=f"{evals.mean():.1f}", frozen=f"{frozen.sum()}/{num_seeds}")
            bar.refresh()
        if frozen.all():
            break
    result = finish_c(state, hp)
    jax.block_until_ready(result)
    wall = time.perf_counter() - start
    if bar is not None:
        bar.close()
    steps = int(np.asarray(result.state.env_step).sum())
    return result, {
        "compile_time_s": compile_time,
        "wall_time_s": wall,
        "env_steps_per_s": steps / wall,
        "env_steps": steps,
    }


def _progress_bar(config: DQNConfig, num_seeds: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    total = num_seeds * (config.learning_starts + config.num_periods * config.eval_frequency)
    return tqdm(total=total, unit="step", unit_scale=True, desc=f"{config.env_id} x{num_seeds}")
