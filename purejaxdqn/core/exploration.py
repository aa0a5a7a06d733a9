"""Epsilon-greedy exploration with a linearly decaying epsilon."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def linear_epsilon(
    step: jax.Array, start: jax.Array, end: jax.Array, decay_steps: jax.Array
) -> jax.Array:
    """start -> end linearly over `decay_steps` steps, then constant at `end`.

    `step` counts env steps since learning started (the notebook's `np.interp`).
    """
    frac = jnp.where(
        step >= decay_steps, 1.0, jnp.clip(step / jnp.maximum(decay_steps, 1.0), 0.0, 1.0)
    )
    return start + frac * (end - start)


def epsilon_greedy(key: jax.Array, q: jax.Array, epsilon: jax.Array) -> jax.Array:
    """Per row of q (n, A): a uniform random action with probability epsilon, else argmax.

    Returns actions (n,) int32. One random draw (threefry call sites cost compile time).
    """
    n, num_actions = q.shape
    bits = jax.random.bits(key, (2, n), jnp.uint32)  # one draw: coin flips and actions
    explore = bits_to_unit_float(bits[0]) < epsilon
    random_actions = random_index(bits[1], num_actions)
    return jnp.where(explore, random_actions, jnp.argmax(q, axis=-1)).astype(jnp.int32)


def bits_to_unit_float(bits: jax.Array) -> jax.Array:
    """uint32 random bits -> float32 uniform in [0, 1) (24 bits of resolution)."""
    return (bits >> 8).astype(jnp.float32) * (1.0 / (1 << 24))


def random_index(bits: jax.Array, n: jax.Array | int) -> jax.Array:
    """uint32 random bits -> int32 uniform in [0, n); modulo bias < n / 2**32."""
    return (bits % jnp.asarray(n, jnp.uint32)).astype(jnp.int32)
