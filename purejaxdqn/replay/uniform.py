"""The uniform replay buffer: a ring of transitions, sampled uniformly (optax-style factory
of pure `init`, `add`, `sample`)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from purejaxdqn.replay import storage
from purejaxdqn.replay.storage import Ring
from purejaxdqn.replay.transition import Transition

BufferState = Ring  # the uniform buffer's state is its ring


class ReplayBuffer(NamedTuple):
    init: Any  # (example: Transition) -> BufferState
    add: Any  # (state, batch: Transition with leading (n,), valid=True) -> BufferState
    sample: Any  # (key, state, batch_size: static int) -> Transition with leading (batch_size,)


def make_replay_buffer(capacity: int) -> ReplayBuffer:
    """A ring buffer holding the newest `capacity` transitions; samples uniformly."""
    if capacity < 1:
        raise ValueError(f"buffer_size: must be a positive integer, got {capacity}")

    def init(example: Transition) -> BufferState:
        return storage.init(example, capacity)

    def add(state: BufferState, batch: Transition, valid: Any = True) -> BufferState:
        """Writes `n` transitions (leading axis), wrapping around (see `storage.write`)."""
        return storage.write(state, batch, valid)[0]

    def sample(key: jax.Array, state: BufferState, batch_size: int) -> Transition:
        """Uniformly from filled slots only, with replacement. Needs `state.size >= 1`."""
        slots = jax.random.randint(key, (batch_size,), 0, state.size)
        return storage.gather(state, slots)

    return ReplayBuffer(init=init, add=add, sample=sample)
