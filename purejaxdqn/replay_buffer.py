"""A uniform replay buffer as a pytree: a fixed-capacity ring of transitions.

`make_replay_buffer(capacity)` returns pure `init`, `add` and `sample` functions
(the optax factory pattern); the state is an immutable `BufferState`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct


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


@struct.dataclass
class BufferState:
    storage: Transition  # each leaf (capacity, ...)
    position: jax.Array  # shape=(), int32: slot the next transition goes to
    size: jax.Array  # shape=(), int32: filled slots, <= capacity


class ReplayBuffer(NamedTuple):
    init: Any  # (example: Transition) -> BufferState
    add: Any  # (state, batch: Transition with leading (n,)) -> BufferState
    sample: Any  # (key, state, batch_size: static int) -> Transition with leading (batch_size,)


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

    def add(state: BufferState, batch: Transition) -> BufferState:
        """Writes `n` transitions (leading axis) at the ring position, wrapping around."""
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
            slots = (state.position + jnp.arange(n, dtype=jnp.int32)) % capacity
            storage = jax.tree.map(lambda s, x: s.at[slots].set(x), state.storage, batch)
        return BufferState(
            storage=storage,
            position=(state.position + n) % capacity,
            size=jnp.minimum(state.size + n, capacity),
        )

    def sample(key: jax.Array, state: BufferState, batch_size: int) -> Transition:
        """Uniformly from filled slots only (with replacement). Needs `state.size >= 1`."""
        bits = jax.random.bits(key, (batch_size,), jnp.uint32)
        idx = (bits % state.size.astype(jnp.uint32)).astype(jnp.int32)  # bias < size / 2**32
        return jax.tree.map(lambda s: s[idx], state.storage)

    return ReplayBuffer(init=init, add=add, sample=sample)
