"""The discount of a stored transition, and regression losses on TD errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

LOSSES = ("mse", "huber")


def discount(terminated: jax.Array, gamma: jax.Array) -> jax.Array:
    """gamma, or 0 after a terminal state. A time limit (truncation) does not cut it."""
    return gamma * (1.0 - terminated.astype(jnp.float32))


def n_step_discount(terminated: jax.Array, steps: jax.Array, gamma: jax.Array) -> jax.Array:
    """gamma ** steps for an n-step transition that summed `steps` rewards, or 0 after a
    terminal state. A time limit (truncation) does not cut it."""
    return gamma ** steps.astype(jnp.float32) * (1.0 - terminated.astype(jnp.float32))


def elementwise_loss(td: jax.Array, kind: str) -> jax.Array:
    """Squared ("mse") or Huber (delta 1, "huber") loss of each TD error."""
    if kind == "mse":
        return jnp.square(td)
    if kind == "huber":
        return optax.huber_loss(td, delta=1.0)
    raise ValueError(f"loss: must be one of {LOSSES}, got {kind!r}")


def td_loss(td: jax.Array, kind: str) -> jax.Array:
    """Mean over the batch of `elementwise_loss`: (B,) -> ()."""
    return jnp.mean(elementwise_loss(td, kind))


def weighted_td_loss(td: jax.Array, weights: jax.Array, kind: str) -> jax.Array:
    """Mean over the batch of weights * `elementwise_loss` (B,) -> (); with prioritized
    replay the weights are the importance-sampling weights."""
    return jnp.mean(weights * elementwise_loss(td, kind))
