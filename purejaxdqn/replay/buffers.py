"""Replay buffers as pytrees: a fixed-capacity ring of transitions.

`make_replay_buffer(capacity)` returns pure `init`, `add` and `sample` functions
(the optax factory pattern); the state is an immutable `BufferState`.
`make_prioritized_replay_buffer(capacity)` is the same ring with a sum tree of
priorities (proportional prioritized replay, Schaul et al. 2016).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from purejaxdqn.replay import sum_tree


class Transition(NamedTuple):
    """One transition, or a batch of them along leading axes.

    `next_obs` is the observation the action led to, *before* any auto-reset:
    for the last step of an episode it is gymnax's `info["final_observation"]`.
    """

    obs: jax.Array  # (*obs_shape)
    action: jax.Array  # (), integer (uint8 where the actions fit)
    reward: jax.Array  # (), float32
    next_obs: jax.Array  # (*obs_shape)
    terminated: jax.Array  # (), bool: the episode ended in a terminal state (not a time limit)
    # n-step transitions only (None, no leaf, for one-step): rewards summed in `reward`
    # (its discounted sum), so the bootstrap is discounted by gamma ** steps.
    steps: jax.Array | None = None  # (), uint8 in [1, n_step]


@struct.dataclass
class BufferState:
    storage: Transition  # each leaf (capacity, ...)
    position: jax.Array  # shape=(), int32: slot the next transition goes to
    size: jax.Array  # shape=(), int32: filled slots, <= capacity


class ReplayBuffer(NamedTuple):
    init: Any  # (example: Transition) -> BufferState
    add: Any  # (state, batch: Transition with leading (n,), valid=True) -> BufferState
    sample: Any  # (key, state, batch_size: static int) -> Transition with leading (batch_size,)


def _ring_slots(position: jax.Array, n: int, capacity: int) -> jax.Array:
    return (position + jnp.arange(n, dtype=jnp.int32)) % capacity


def _write(
    storage: Transition, batch: Transition, position: jax.Array, slots: jax.Array, capacity: int
) -> Transition:
    """Writes `batch` at `slots` (= the ring positions from `position`)."""
    n = jax.tree.leaves(batch)[0].shape[0]
    if capacity % n == 0:  # positions stay multiples of n: one contiguous block
        return jax.tree.map(
            lambda s, x: jax.lax.dynamic_update_slice_in_dim(s, x, position, axis=0),
            storage,
            batch,
        )
    return jax.tree.map(lambda s, x: s.at[slots].set(x), storage, batch)


def make_replay_buffer(capacity: int) -> ReplayBuffer:
    """A ring buffer holding the newest `capacity` transitions; samples uniformly."""
    if capacity < 1:
        raise ValueError(f"buffer_size: must be a positive integer, got {capacity}")

    def init(example: Transition) -> BufferState:
        """`example` is one unbatched transition; it fixes shapes and dtypes only."""
        storage = jax.tree.map(
            lambda x: jnp.zeros((capacity, *jnp.shape(x)), jnp.asarray(x).dtype), example
        )
        return BufferState(storage=storage, position=jnp.int32(0), size=jnp.int32(0))

    def add(state: BufferState, batch: Transition, valid: Any = True) -> BufferState:
        """Writes `n` transitions (leading axis) at the ring position, wrapping around.

        `valid` (a traced bool, shape ()): False still writes the batch but leaves the
        position and size as they were, so it counts for nothing and the next add
        overwrites it. Only for slots that hold nothing to keep: a full ring's oldest
        transitions sit there (the trainer uses it in a run's first steps)."""
        n = jax.tree.leaves(batch)[0].shape[0]
        if n > capacity:
            raise ValueError(f"cannot add {n} transitions at once to a buffer of {capacity}")
        if capacity % n == 0:  # positions stay multiples of n: one contiguous block
            storage = jax.tree.map(
                lambda s, x: jax.lax.dynamic_update_slice_in_dim(s, x, state.position, axis=0),
                state.storage,
                batch,
            )
        else:
            slots = _ring_slots(state.position, n, capacity)
            storage = jax.tree.map(lambda s, x: s.at[slots].set(x), state.storage, batch)
        added = n if valid is True else jnp.where(valid, n, 0)
        return BufferState(
            storage=storage,
            position=(state.position + added) % capacity,
            size=jnp.minimum(state.size + added, capacity),
        )

    def sample(key: jax.Array, state: BufferState, batch_size: int) -> Transition:
        """Uniformly from filled slots only (with replacement). Needs `state.size >= 1`."""
        bits = jax.random.bits(key, (batch_size,), jnp.uint32)
        idx = (bits % state.size.astype(jnp.uint32)).astype(jnp.int32)  # bias < size / 2**32
        return jax.tree.map(lambda s: s[idx], state.storage)

    return ReplayBuffer(init=init, add=add, sample=sample)


@struct.dataclass
class PrioritizedBufferState:
    storage: Transition  # each leaf (capacity, ...)
    position: jax.Array  # shape=(), int32: slot the next transition goes to
    size: jax.Array  # shape=(), int32: filled slots, <= capacity
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
    update_priorities: Any  # (state, indices (b,), priorities ** alpha (b,)) -> state


def make_prioritized_replay_buffer(capacity: int) -> PrioritizedReplayBuffer:
    """Proportional prioritized replay (Schaul et al. 2016) over a ring of `capacity` slots.

    The tree holds each slot's priority already raised to alpha (the caller's traced
    exponent), so the buffer never needs alpha: new transitions enter at the largest
    priority ** alpha seen so far (1 at first), which is (max priority) ** alpha.
    """
    if capacity < 1:
        raise ValueError(f"buffer_size: must be a positive integer, got {capacity}")

    def init(example: Transition) -> PrioritizedBufferState:
        storage = jax.tree.map(
            lambda x: jnp.zeros((capacity, *jnp.shape(x)), jnp.asarray(x).dtype), example
        )
        return PrioritizedBufferState(
            storage=storage,
            position=jnp.int32(0),
            size=jnp.int32(0),
            tree=sum_tree.init(capacity),
            max_priority=jnp.float32(1.0),
        )

    def add(
        state: PrioritizedBufferState, batch: Transition, valid: Any = True
    ) -> PrioritizedBufferState:
        """As the uniform buffer's `add`; an invalid batch also keeps its slots' priorities."""
        n = jax.tree.leaves(batch)[0].shape[0]
        if n > capacity:
            raise ValueError(f"cannot add {n} transitions at once to a buffer of {capacity}")
        slots = _ring_slots(state.position, n, capacity)
        storage = _write(state.storage, batch, state.position, slots, capacity)
        priorities = jnp.full((n,), state.max_priority)
        if valid is not True:
            priorities = jnp.where(valid, priorities, state.tree[-1][slots])
        added = n if valid is True else jnp.where(valid, n, 0)
        return state.replace(
            storage=storage,
            position=(state.position + added) % capacity,
            size=jnp.minimum(state.size + added, capacity),
            tree=sum_tree.update(state.tree, slots, priorities),
        )

    def sample(key: jax.Array, state: PrioritizedBufferState, batch_size: int) -> PrioritizedSample:
        """Stratified proportional sample. Needs `state.size >= 1`."""
        idx = sum_tree.sample(key, state.tree, batch_size)
        idx = jnp.minimum(idx, state.size - 1)  # unreachable guard: empty leaves have p = 0
        leaf = state.tree[-1][idx]
        return PrioritizedSample(
            transitions=jax.tree.map(lambda s: s[idx], state.storage),
            indices=idx,
            probabilities=leaf / sum_tree.total(state.tree),
        )

    def update_priorities(
        state: PrioritizedBufferState, indices: jax.Array, priorities: jax.Array
    ) -> PrioritizedBufferState:
        """`priorities` are the new priority ** alpha of slots `indices`, all > 0."""
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
