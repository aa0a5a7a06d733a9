"""n-step transitions from a rolling window of the last n one-step transitions per env.

After each vectorized env step the newest one-step transitions are pushed into the
window (leaves `(n, num_envs, ...)`, oldest first) and the n-step transition that starts
at the oldest one is emitted: the discounted sum of rewards up to the first episode end
in the window (or n rewards), then

* at a termination: no bootstrap (`terminated` True);
* at a truncation (time limit): bootstrap from that step's final observation
  (gymnax's `info["final_observation"]`), discounted by gamma ** steps;
* otherwise: bootstrap from the observation n steps later.

Every start is emitted exactly once, n - 1 env steps after it happened. The first
n - 1 pushes of a run fill the window and emit nothing usable (the caller skips them).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from purejaxdqn.replay.transition import Transition


class Window(NamedTuple):
    """The last n one-step transitions of each env, oldest first."""

    transitions: Transition  # leaves (n, num_envs, ...); `steps` is None
    ended: jax.Array  # (n, num_envs) bool: terminated or truncated at that step


def init(example: Transition, n: int) -> Window:
    """An empty window; `example` is a batched one-step transition (leaves (num_envs, ...))."""
    return Window(
        transitions=jax.tree.map(lambda x: jnp.zeros((n, *x.shape), x.dtype), example),
        ended=jnp.zeros((n, *example.reward.shape), bool),
    )


def push(window: Window, transition: Transition, ended: jax.Array) -> Window:
    """Drops the oldest step and appends `transition` (leaves (num_envs, ...))."""

    def roll(w: jax.Array, x: jax.Array) -> jax.Array:
        return jnp.concatenate([w[1:], x[None].astype(w.dtype)])

    return Window(
        transitions=jax.tree.map(roll, window.transitions, transition),
        ended=roll(window.ended, ended),
    )


def oldest_n_step(window: Window, gamma: jax.Array) -> Transition:
    """The n-step transition starting at the window's oldest step, for every env.

    Returns a `Transition` with leaves (num_envs, ...): obs and action of the oldest
    step, reward = sum_{k<steps} gamma^k r_k, next_obs and terminated of the last summed
    step, steps = rewards summed (uint8).
    """
    t = window.transitions
    n = window.ended.shape[0]
    ended = window.ended.astype(jnp.float32)  # (n, num_envs)
    # alive[k]: no episode ended before step k, so reward k belongs to the same episode.
    alive = jnp.cumprod(jnp.concatenate([jnp.ones_like(ended[:1]), 1.0 - ended[:-1]]), axis=0)
    powers = gamma ** jnp.arange(n, dtype=jnp.float32)  # (n,)
    reward = jnp.sum(alive * powers[:, None] * t.reward, axis=0)  # (num_envs,)
    steps = jnp.sum(alive, axis=0).astype(jnp.int32)  # (num_envs,) in [1, n]
    last = steps - 1  # index of the last summed step

    def at_last(x: jax.Array) -> jax.Array:  # (n, num_envs, ...) -> (num_envs, ...)
        idx = last.reshape((1, -1) + (1,) * (x.ndim - 2))
        return jnp.take_along_axis(x, idx, axis=0)[0]

    return Transition(
        obs=t.obs[0],
        action=t.action[0],
        reward=reward,
        next_obs=at_last(t.next_obs),
        terminated=at_last(t.terminated),
        steps=steps.astype(jnp.uint8),
    )
