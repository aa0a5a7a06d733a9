"""The ring of stored transitions that both replay buffers share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
from flax import struct

from purejaxdqn.replay.transition import Transition


@struct.dataclass
class Ring:
    """The newest `capacity` transitions; leaves of `storage` are (capacity, ...)."""

    storage: Transition
    position: jax.Array  # shape=(), int32: slot the next transition goes to
    size: jax.Array  # shape=(), int32: filled slots, <= capacity

    if TYPE_CHECKING:  # flax adds `replace`; tell the type checker

        def replace(self, **changes: Any) -> Ring: ...


def init(example: Transition, capacity: int) -> Ring:
    """An empty ring; `example` is one unbatched transition (it fixes shapes and dtypes)."""
    if capacity < 1:
        raise ValueError(f"buffer_size: must be a positive integer, got {capacity}")
    storage = jax.tree.map(
        lambda x: jnp.zeros((capacity, *jnp.shape(x)), jnp.asarray(x).dtype), example
    )
    return Ring(storage=storage, position=jnp.int32(0), size=jnp.int32(0))


def write(ring: Ring, batch: Transition, valid: Any = True) -> tuple[Ring, jax.Array]:
    """Writes the `n` transitions of `batch` (leading axis) at the ring position.

    Returns the new ring and the `n` slots written. `valid` (a traced bool, shape ()):
    False still writes the batch but leaves position and size as they were, so it counts
    for nothing and the next write overwrites it (for a run's first steps, where those
    slots hold nothing to keep).
    """
    capacity = jax.tree.leaves(ring.storage)[0].shape[0]
    n = jax.tree.leaves(batch)[0].shape[0]
    if n > capacity:
        raise ValueError(f"cannot add {n} transitions at once to a buffer of {capacity}")
    slots = (ring.position + jnp.arange(n, dtype=jnp.int32)) % capacity
    storage = jax.tree.map(lambda s, x: s.at[slots].set(x), ring.storage, batch)
    added = n if valid is True else jnp.where(valid, n, 0)
    ring = Ring(
        storage=storage,
        position=(ring.position + added) % capacity,
        size=jnp.minimum(ring.size + added, capacity),
    )
    return ring, slots


def gather(ring: Ring, slots: jax.Array) -> Transition:
    """The transitions in `slots` (b,): leaves (b, ...)."""
    return jax.tree.map(lambda s: s[slots], ring.storage)
