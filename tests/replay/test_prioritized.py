"""The sum tree and the prioritized replay buffer: sums, sampling frequencies, weights."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxdqn.replay import sum_tree
from purejaxdqn.replay.prioritized import (
    importance_weights,
    linear_beta,
    make_prioritized_replay_buffer,
)
from purejaxdqn.replay.transition import Transition


def _transitions(values):
    """Transitions whose obs is their value (so a sample says which slot it came from)."""
    v = jnp.asarray(values, jnp.float32)
    n = v.shape[0]
    return Transition(
        obs=v[:, None],
        action=jnp.zeros((n,), jnp.uint8),
        reward=v,
        next_obs=v[:, None],
        terminated=jnp.zeros((n,), bool),
    )


def _example():
    return jax.tree.map(lambda x: x[0], _transitions([0.0]))


def _check_sums(tree):
    """Every entry of a level is the sum of its block in the level below."""
    for upper, lower in zip(tree[:-1], tree[1:]):
        sums = np.asarray(lower, np.float64).reshape(-1, sum_tree.BRANCHING).sum(-1)
        np.testing.assert_allclose(np.asarray(upper)[: sums.size], sums, rtol=1e-6)
        assert np.all(np.asarray(upper)[sums.size :] == 0)


@pytest.mark.parametrize(
    "capacity, sizes",
    [(1, [16]), (16, [16]), (17, [16, 32]), (50_000, [16, 208, 3136, 50_000])],
)
def test_level_sizes(capacity, sizes):
    assert sum_tree.level_sizes(capacity) == sizes
    assert [x.shape[0] for x in sum_tree.init(capacity)] == sizes


class TestSumTree(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_update_keeps_every_node_the_sum_of_its_children(self):
        update = self.variant(sum_tree.update)
        rng = np.random.default_rng(0)
        tree = sum_tree.init(3000)  # three levels
        for _ in range(5):
            idx = rng.integers(0, 3000, size=40)  # repeats included
            values = rng.uniform(0.1, 3.0, size=40)
            tree = update(tree, jnp.asarray(idx, jnp.int32), jnp.asarray(values, jnp.float32))
            _check_sums(tree)
        assert len(tree) == 3
        leaves = np.asarray(sum_tree.leaves(tree, 3000))
        np.testing.assert_allclose(float(sum_tree.total(tree)), leaves.sum(), rtol=1e-6)
        assert np.all(np.asarray(tree[-1])[3000:] == 0)  # padding past capacity stays empty

    @chex.variants(with_jit=True, without_jit=True)
    def test_stratified_sample_by_hand(self):
        # Priorities 1, 2, 3, 4 (total 10) in 10 strata of width 1: leaf 0 owns [0, 1),
        # leaf 1 [1, 3), leaf 2 [3, 6), leaf 3 [6, 10), so every key draws them exactly
        # 1, 2, 3 and 4 times, in order.
        tree = sum_tree.update(sum_tree.init(6), jnp.arange(4), jnp.array([1.0, 2.0, 3.0, 4.0]))
        sample = self.variant(sum_tree.sample, static_argnums=2)
        for seed in range(5):
            idx = np.asarray(sample(jax.random.key(seed), tree, 10))
            np.testing.assert_array_equal(idx, [0, 1, 1, 2, 2, 2, 3, 3, 3, 3])

    def test_sampling_frequencies_match_priorities(self):
        # Uneven priorities, a zero leaf and unused slots past the capacity.
        # Spread over three levels and several blocks (slots 0 .. 290 of 300).
        priorities = np.array([5.0, 0.5, 0.0, 2.0, 1.0, 8.0, 0.25, 3.25])
        slots = np.array([0, 1, 17, 40, 100, 250, 255, 290])
        tree = sum_tree.update(
            sum_tree.init(300), jnp.asarray(slots), jnp.asarray(priorities, jnp.float32)
        )
        draws, batch = 400, 50
        keys = jax.random.split(jax.random.key(1), draws)
        idx = np.asarray(jax.jit(jax.vmap(lambda k: sum_tree.sample(k, tree, batch)))(keys))
        n = idx.size
        freq = np.bincount(idx.ravel(), minlength=304) / n
        expected = np.zeros(304)
        expected[slots] = priorities / priorities.sum()
        # 5 binomial standard deviations (stratification only lowers the variance)
        tol = 5 * np.sqrt(expected * (1 - expected) / n) + 1e-12
        assert np.all(np.abs(freq - expected) <= tol), (freq, expected, tol)
        assert freq[17] == 0 and set(np.unique(idx)) <= set(slots)  # zero leaves never drawn


def test_new_transitions_enter_at_the_largest_priority():
    buf = make_prioritized_replay_buffer(6)
    state = buf.init(_example())
    state = buf.add(state, _transitions([0.0, 1.0]))
    np.testing.assert_allclose(np.asarray(sum_tree.leaves(state.tree, 6)), [1, 1, 0, 0, 0, 0])
    state = buf.update_priorities(state, jnp.array([0, 1]), jnp.array([5.0, 0.5]))
    state = buf.add(state, _transitions([2.0, 3.0]))
    np.testing.assert_allclose(
        np.asarray(sum_tree.leaves(state.tree, 6)), [5, 0.5, 5, 5, 0, 0], rtol=1e-6
    )
    assert float(state.max_priority) == 5.0
    # The ring wraps: slots 4, 5, 0 are overwritten and get the max priority too.
    state = buf.add(state, _transitions([4.0, 5.0, 6.0]))
    np.testing.assert_allclose(
        np.asarray(sum_tree.leaves(state.tree, 6)), [5, 0.5, 5, 5, 5, 5], rtol=1e-6
    )
    assert int(state.ring.size) == 6 and int(state.ring.position) == 1
    _check_sums(state.tree)
    # An update that is not valid (a dropped gradient step) keeps the priorities.
    kept = buf.update_priorities(state, jnp.array([1, 2]), jnp.array([9.0, 9.0]), jnp.bool_(False))
    np.testing.assert_array_equal(np.asarray(kept.tree[-1]), np.asarray(state.tree[-1]))


class TestPrioritizedBuffer(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_sample_returns_slots_their_transitions_and_probabilities(self):
        buf = make_prioritized_replay_buffer(4)
        state = buf.add(buf.init(_example()), _transitions([10.0, 11.0, 12.0, 13.0]))
        state = buf.update_priorities(state, jnp.arange(4), jnp.array([1.0, 2.0, 3.0, 4.0]))
        sample = self.variant(buf.sample, static_argnums=2)(jax.random.key(0), state, 10)
        idx = np.asarray(sample.indices)
        np.testing.assert_array_equal(idx, [0, 1, 1, 2, 2, 2, 3, 3, 3, 3])
        np.testing.assert_array_equal(np.asarray(sample.transitions.reward), 10.0 + idx)
        np.testing.assert_allclose(np.asarray(sample.probabilities), (idx + 1) / 10.0, rtol=1e-6)


class TestImportanceWeights(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_weights_by_hand(self):
        p = jnp.array([0.1, 0.2, 0.3, 0.4])
        w = self.variant(importance_weights)(p, jnp.int32(4), jnp.float32(0.5))
        # (4 p)^-0.5 / max = sqrt(0.4 / (4 p))
        np.testing.assert_allclose(np.asarray(w), np.sqrt(0.4 / (4 * np.asarray(p))), rtol=1e-6)
        w1 = importance_weights(p, jnp.int32(4), jnp.float32(1.0))
        np.testing.assert_allclose(np.asarray(w1), [1.0, 0.5, 1 / 3, 0.25], rtol=1e-6)
        w0 = importance_weights(p, jnp.int32(4), jnp.float32(0.0))
        np.testing.assert_allclose(np.asarray(w0), 1.0)  # beta 0: no correction

    @chex.variants(with_jit=True, without_jit=True)
    def test_beta_anneals_linearly_to_one(self):
        beta = self.variant(linear_beta, static_argnums=(2, 3))
        steps = jnp.array([0, 1_000, 3_500, 6_000, 9_000], jnp.int32)
        got = [float(beta(s, jnp.float32(0.4), 1_000, 6_000)) for s in steps]
        np.testing.assert_allclose(got, [0.4, 0.4, 0.7, 1.0, 1.0], rtol=1e-6)
