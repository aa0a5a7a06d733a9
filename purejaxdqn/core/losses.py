"""TD targets and losses for DQN and Double DQN.

Written for a *single* transition with time-indexed names, as in rlax
(`q_tm1` = Q(s_{t-1}, .), `a_tm1`, `r_t`, `discount_t`, `q_t` = Q(s_t, .));
the caller batches them with `jax.vmap`.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import optax


def q_learning_target(r_t: jax.Array, discount_t: jax.Array, q_t: jax.Array) -> jax.Array:
    """DQN target r_t + discount_t * max_a q_t[a] (Mnih et al. 2015).

    q_t: (num_actions,) from the target network. Returns a scalar.
    """
    chex.assert_rank([r_t, discount_t, q_t], [0, 0, 1])
    return r_t + discount_t * jnp.max(q_t)


def double_q_learning_target(
    r_t: jax.Array, discount_t: jax.Array, q_t_value: jax.Array, q_t_selector: jax.Array
) -> jax.Array:
    """Double DQN target r_t + discount_t * q_t_value[argmax q_t_selector] (van Hasselt 2016).

    q_t_value: (num_actions,) from the target network; q_t_selector: (num_actions,) online.
    """
    chex.assert_rank([r_t, discount_t, q_t_value, q_t_selector], [0, 0, 1, 1])
    return r_t + discount_t * q_t_value[jnp.argmax(q_t_selector)]


def td_error(q_tm1: jax.Array, a_tm1: jax.Array, target: jax.Array) -> jax.Array:
    """target - q_tm1[a_tm1], with no gradient through the target."""
    chex.assert_rank([q_tm1, a_tm1, target], [1, 0, 0])
    return jax.lax.stop_gradient(target) - q_tm1[a_tm1]


def discount(terminated: jax.Array, gamma: jax.Array) -> jax.Array:
    """gamma, or 0 after a terminal state. A time limit (truncation) does not cut it."""
    return gamma * (1.0 - terminated.astype(jnp.float32))


def n_step_discount(terminated: jax.Array, steps: jax.Array, gamma: jax.Array) -> jax.Array:
    """gamma ** steps for an n-step transition that summed `steps` rewards, or 0 after a
    terminal state. A time limit (truncation) does not cut it."""
    return gamma ** steps.astype(jnp.float32) * (1.0 - terminated.astype(jnp.float32))


def td_loss(td: jax.Array, kind: str) -> jax.Array:
    """Mean over the batch of the squared ("mse") or Huber (delta 1, "huber") TD error."""
    if kind == "mse":
        return jnp.mean(jnp.square(td))
    if kind == "huber":
        return jnp.mean(optax.huber_loss(td, delta=1.0))
    raise ValueError(f"loss: must be 'mse' or 'huber', got {kind!r}")


def weighted_td_loss(td: jax.Array, weights: jax.Array, kind: str) -> jax.Array:
    """Mean over the batch of weights * the per-transition loss of `td_loss` (B,) -> ().

    With prioritized replay the weights are the importance-sampling weights."""
    if kind == "mse":
        per_transition = jnp.square(td)
    elif kind == "huber":
        per_transition = optax.huber_loss(td, delta=1.0)
    else:
        raise ValueError(f"loss: must be 'mse' or 'huber', got {kind!r}")
    return jnp.mean(weights * per_transition)


def batched_td_errors(
    q_tm1: jax.Array,
    a_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    q_t_target: jax.Array,
    q_t_online: jax.Array | None,
) -> jax.Array:
    """TD errors for a batch: q (B, A), a/r/discount (B,) -> (B,).

    With `q_t_online` given, Double DQN targets; without, DQN targets.
    """
    if q_t_online is None:
        targets = jax.vmap(q_learning_target)(r_t, discount_t, q_t_target)
    else:
        targets = jax.vmap(double_q_learning_target)(r_t, discount_t, q_t_target, q_t_online)
    return jax.vmap(td_error)(q_tm1, a_tm1, targets)
