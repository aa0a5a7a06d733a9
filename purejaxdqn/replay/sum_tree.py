"""A sum tree as a tuple of arrays, one per level: pure, batched `update` and stratified
`sample`.

The tree is `BRANCHING`-ary (16) rather than binary: with a capacity of 50,000 it is 4
levels deep instead of 16, and on the CPU the cost of an update or a sample is set by the
number of small gather/scatter operations (a few per level), not by their width.

Levels run from the top (`levels[0]`, `BRANCHING` entries whose sum is the total) to the
leaves (`levels[-1]`, one per slot, padded with zeros to a multiple of `BRANCHING`).
Entry i of level d is the sum of block i (entries `i*B .. i*B + B - 1`) of level d + 1.
Padding leaves stay 0, so they are never sampled.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

BRANCHING = 16  # measured on the CPU: 8 and 64 were slower (benchmarks/RESULTS.md)

SumTree = tuple[jax.Array, ...]  # levels, top first; each (multiple of BRANCHING,) float32


def level_sizes(capacity: int) -> list[int]:
    """Sizes of the levels, top first: the leaves round capacity up to a multiple of
    BRANCHING, each level above has one entry per block below (rounded up the same way)."""

    def round_up(n: int) -> int:
        return -(-n // BRANCHING) * BRANCHING

    sizes = [round_up(capacity)]
    while sizes[0] > BRANCHING:
        sizes.insert(0, round_up(sizes[0] // BRANCHING))
    return sizes


def init(capacity: int) -> SumTree:
    """An all-zero tree over `capacity` leaves."""
    return tuple(jnp.zeros((n,), jnp.float32) for n in level_sizes(capacity))


def total(tree: SumTree) -> jax.Array:
    """Sum of all leaves, shape ()."""
    return jnp.sum(tree[0])


def leaves(tree: SumTree, capacity: int) -> jax.Array:
    """The leaf values, (capacity,)."""
    return tree[-1][:capacity]


def update(tree: SumTree, indices: jax.Array, values: jax.Array) -> SumTree:
    """Sets leaves `indices` (n,) int32 to `values` (n,) and recomputes their ancestors.

    Repeated indices are allowed: one of their values is kept, and every ancestor is
    recomputed from its children, so the sums stay exact for what the leaves hold.
    """
    levels = list(tree)
    levels[-1] = levels[-1].at[indices].set(values.astype(jnp.float32))
    nodes = indices
    for d in range(len(levels) - 2, -1, -1):
        nodes = nodes // BRANCHING
        blocks = levels[d + 1].reshape(-1, BRANCHING)[nodes]  # (n, BRANCHING)
        levels[d] = levels[d].at[nodes].set(jnp.sum(blocks, axis=-1))
    return tuple(levels)


def sample(key: jax.Array, tree: SumTree, batch_size: int) -> jax.Array:
    """Stratified proportional sampling: (batch_size,) int32 leaf indices.

    The total mass is cut into `batch_size` equal strata and one point is drawn uniformly
    in each, so leaf j is drawn with probability leaf_j / total per draw (averaged over
    the strata). Needs a positive total.
    """
    strata = (jnp.arange(batch_size) + jax.random.uniform(key, (batch_size,))) / batch_size
    mass = strata * total(tree)  # (batch_size,) points in [0, total)
    node = jnp.zeros((batch_size,), jnp.int32)
    for level in tree:  # static depth: a few levels
        blocks = level.reshape(-1, BRANCHING)[node]  # (batch_size, BRANCHING)
        upper = jnp.cumsum(blocks, axis=-1)
        # Float rounding can put a point at or past its block's total: keep it just below,
        # so the child whose [lower, upper) holds it is never an empty one.
        mass = jnp.minimum(mass, jnp.nextafter(upper[:, -1], 0.0))
        child = jnp.sum(upper <= mass[:, None], axis=-1)
        lower = jnp.take_along_axis(upper - blocks, child[:, None], axis=-1)[:, 0]
        mass = mass - lower
        node = node * BRANCHING + child  # at the top node is 0: the block index
    return node.astype(jnp.int32)
