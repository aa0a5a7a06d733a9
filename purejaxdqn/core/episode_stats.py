"""Training-episode bookkeeping: running returns and the last 100 finished episodes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
from flax import struct

WINDOW = 100  # the notebook's "mean return of the last 100 episodes"


@struct.dataclass
class EpisodeStats:
    running_return: jax.Array  # (num_envs,) float32: return so far of each env's episode
    recent_returns: jax.Array  # (WINDOW,) float32: ring of the last finished returns
    finished: jax.Array  # shape=(), int32: episodes finished so far

    if TYPE_CHECKING:  # flax adds `replace`; tell the type checker

        def replace(self, **changes: Any) -> EpisodeStats: ...


def init(num_envs: int) -> EpisodeStats:
    return EpisodeStats(
        running_return=jnp.zeros((num_envs,), jnp.float32),
        recent_returns=jnp.zeros((WINDOW,), jnp.float32),
        finished=jnp.int32(0),
    )


def clear_window(stats: EpisodeStats) -> EpisodeStats:
    """Forgets finished episodes; episodes in progress keep their running returns."""
    return stats.replace(recent_returns=jnp.zeros_like(stats.recent_returns), finished=jnp.int32(0))


def update(stats: EpisodeStats, reward: jax.Array, done: jax.Array) -> EpisodeStats:
    """Adds one vectorized step: reward (num_envs,), done (num_envs,) = terminated | truncated."""
    returns = stats.running_return + reward
    order = jnp.cumsum(done.astype(jnp.int32)) - 1  # rank of each finished env this step
    slots = jnp.where(done, (stats.finished + order) % WINDOW, WINDOW)  # WINDOW: dropped
    recent = stats.recent_returns.at[slots].set(returns, mode="drop")
    return EpisodeStats(
        running_return=jnp.where(done, 0.0, returns),
        recent_returns=recent,
        finished=stats.finished + jnp.sum(done, dtype=jnp.int32),
    )


def mean_recent_return(stats: EpisodeStats) -> jax.Array:
    """Mean return of the last min(finished, 100) episodes; NaN before the first one ends."""
    count = jnp.minimum(stats.finished, WINDOW)
    return jnp.where(count > 0, jnp.sum(stats.recent_returns) / jnp.maximum(count, 1), jnp.nan)
