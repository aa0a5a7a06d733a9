"""A sum tree as one flat array: pure, batched `update` and stratified `sample`.

The tree over `capacity` leaves is an array of `2 * size` float32 where `size` is the
next power of two >= capacity: node 1 is the root, node i has children 2i and 2i + 1, and
leaf j is node `size + j` (node 0 is unused). Leaves past `capacity` stay 0, so they are
never sampled. A batched update sets leaves and then recomputes their ancestors level by
level; sampling descends all strata at once, one level per `lax.fori_loop` step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def num_leaf_slots(capacity: int) -> int:
    """Leaves of the complete binary tree: the next power of two >= capacity."""
    return 1 << max(capacity - 1, 0).bit_length()


def init(capacity: int) -> jax.Array:
    """An all-zero tree, (2 * num_leaf_slots(capacity),) float32."""
    return jnp.zeros((2 * num_leaf_slots(capacity),), jnp.float32)


def total(tree: jax.Array) -> jax.Array:
    """Sum of all leaves, shape ()."""
    return tree[1]


def leaves(tree: jax.Array, capacity: int) -> jax.Array:
    """The leaf values, (capacity,)."""
    size = tree.shape[0] // 2
    return tree[size : size + capacity]


def update(tree: jax.Array, indices: jax.Array, values: jax.Array) -> jax.Array:
    """Sets leaves `indices` (n,) int32 to `values` (n,) and recomputes their ancestors.

    Repeated indices are allowed: one of their values is kept, and every ancestor is
    recomputed from its children, so the sums stay exact for what the leaves hold.
    """
    size = tree.shape[0] // 2
    nodes = indices + size
    tree = tree.at[nodes].set(values.astype(tree.dtype))
    for _ in range(size.bit_length() - 1):  # static depth: log2(size) levels
        nodes = nodes // 2
        tree = tree.at[nodes].set(tree[2 * nodes] + tree[2 * nodes + 1])
    return tree


def sample(key: jax.Array, tree: jax.Array, batch_size: int) -> jax.Array:
    """Stratified proportional sampling: (batch_size,) int32 leaf indices.

    The total mass is cut into `batch_size` equal strata and one point is drawn uniformly
    in each, so leaf j is drawn with probability tree_leaf_j / total per draw (averaged
    over the strata). Needs a positive total.
    """
    size = tree.shape[0] // 2
    depth = size.bit_length() - 1
    strata = (jnp.arange(batch_size) + jax.random.uniform(key, (batch_size,))) / batch_size
    mass = strata * total(tree)  # (batch_size,) points in [0, total)

    def descend(_, carry):
        node, mass = carry
        left = tree[2 * node]
        # Go right past the left mass, but never into an empty subtree (float rounding
        # can put a point at or just past the total).
        right = (mass >= left) & (tree[2 * node + 1] > 0)
        return jnp.where(right, 2 * node + 1, 2 * node), jnp.where(right, mass - left, mass)

    node, _ = jax.lax.fori_loop(0, depth, descend, (jnp.ones((batch_size,), jnp.int32), mass))
    return node - size
