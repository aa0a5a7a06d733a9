"""Proportional prioritized replay (Schaul et al. 2016): the ring with a sum tree of
priorities, stratified sampling and importance-sampling weights."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from purejaxdqn.replay import storage, sum_tree
from purejaxdqn.replay.storage import Ring
from purejaxdqn.replay.transition import Transition


@struct.dataclass
class PrioritizedBufferState:
    ring: Ring
    tree: sum_tree.SumTree  # levels of a 16-ary sum tree of priority ** alpha
    max_priority: jax.Array  # shape=(), float32: largest priority ** alpha so far

    if TYPE_CHECKING:  # flax adds `replace`; tell the type checker

        def replace(self, **changes: Any) -> PrioritizedBufferState: ...


class PrioritizedSample(NamedTuple):
    transitions: Transition  # leaves (batch_size, ...)
    indices: jax.Array  # (batch_size,) int32: slots, to update their priorities
    probabilities: jax.Array  # (batch_size,) float32: P(slot) = p_slot / sum_k p_k


class PrioritizedReplayBuffer(NamedTuple):
    init: Any  # (example: Transition) -> PrioritizedBufferState
    add: Any  # (state, batch: Transition with leading (n,), valid=True) -> PrioritizedBufferState
    sample: Any  # (key, state, batch_size: static int) -> PrioritizedSample
    update_priorities: Any  # (state, indices (b,), priorities ** alpha (b,), valid=True) -> state


def make_prioritized_replay_buffer(capacity: int) -> PrioritizedReplayBuffer:
    """Proportional prioritized replay over a ring of `capacity` slots.

    The tree holds each slot's priority already raised to alpha (the caller's traced
    exponent), so the buffer never needs alpha: new transitions enter at the largest
    priority ** alpha seen so far (1 at first), which is (max priority) ** alpha.
    """
    if capacity < 1:
        raise ValueError(f"buffer_size: must be a positive integer, got {capacity}")

    def init(example: Transition) -> PrioritizedBufferState:
        return PrioritizedBufferState(
            ring=storage.init(example, capacity),
            tree=sum_tree.init(capacity),
            max_priority=jnp.float32(1.0),
        )

    def add(
        state: PrioritizedBufferState, batch: Transition, valid: Any = True
    ) -> PrioritizedBufferState:
        """As the uniform buffer's `add`; an invalid batch also keeps its slots' priorities."""
        ring, slots = storage.write(state.ring, batch, valid)
        priorities = jnp.full(slots.shape, state.max_priority)
        if valid is not True:
            priorities = jnp.where(valid, priorities, state.tree[-1][slots])
        return state.replace(ring=ring, tree=sum_tree.update(state.tree, slots, priorities))

    def sample(key: jax.Array, state: PrioritizedBufferState, batch_size: int) -> PrioritizedSample:
        """Stratified proportional sample. Needs `state.ring.size >= 1`."""
        idx = sum_tree.sample(key, state.tree, batch_size)
        idx = jnp.minimum(idx, state.ring.size - 1)  # unreachable guard: empty leaves have p = 0
        return PrioritizedSample(
            transitions=storage.gather(state.ring, idx),
            indices=idx,
            probabilities=state.tree[-1][idx] / sum_tree.total(state.tree),
        )

    def update_priorities(
        state: PrioritizedBufferState, indices: jax.Array, priorities: jax.Array, valid: Any = True
    ) -> PrioritizedBufferState:
        """`priorities` are the new priority ** alpha of slots `indices`, all > 0.

        `valid` (a traced bool, shape ()): False keeps the slots' priorities as they were."""
        if valid is not True:
            priorities = jnp.where(valid, priorities, state.tree[-1][indices])
        return state.replace(
            tree=sum_tree.update(state.tree, indices, priorities),
            max_priority=jnp.maximum(state.max_priority, jnp.max(priorities)),
        )

    return PrioritizedReplayBuffer(
        init=init, add=add, sample=sample, update_priorities=update_priorities
    )


def linear_beta(
    env_step: jax.Array, beta_start: jax.Array, learning_starts: int, total_timesteps: int
) -> jax.Array:
    """Importance-sampling exponent annealed linearly from `beta_start` at
    `learning_starts` to 1 at `total_timesteps` (held at the ends). Shape ()."""
    span = max(total_timesteps - learning_starts, 1)
    progress = jnp.clip((env_step - learning_starts).astype(jnp.float32) / span, 0.0, 1.0)
    return beta_start + (1.0 - beta_start) * progress


def importance_weights(
    probabilities: jax.Array, buffer_size: jax.Array, beta: jax.Array
) -> jax.Array:
    """w_i = (N * P(i)) ** -beta / max_j w_j over the batch (Schaul et al. 2016, sec. 3.4).

    Normalised by the batch's largest weight, so weights only scale updates down.
    probabilities (b,), buffer_size () -> (b,) float32 in (0, 1].
    """
    weights = (buffer_size.astype(jnp.float32) * probabilities) ** -beta
    return weights / jnp.max(weights)
