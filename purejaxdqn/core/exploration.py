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

    Returns actions (n,) int32, sampled in one draw from the mixed distribution
    epsilon / A + (1 - epsilon) * onehot(argmax q), as rlax's `epsilon_greedy` does.
    """
    num_actions = q.shape[-1]
    greedy = jax.nn.one_hot(jnp.argmax(q, axis=-1), num_actions)
    probs = epsilon / num_actions + (1.0 - epsilon) * greedy  # (n, A)
    return jax.random.categorical(key, jnp.log(probs)).astype(jnp.int32)
