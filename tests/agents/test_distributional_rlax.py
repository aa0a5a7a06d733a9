"""C51's and QR-DQN's losses against rlax's, an independent implementation, on random
transitions (vmapped, jitted and not), and the categorical projection by hand."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import rlax

from purejaxdqn.agents.c51 import categorical_projection, categorical_td
from purejaxdqn.agents.qr_dqn import HUBER, quantile_midpoints, quantile_td

BATCH, ACTIONS, ATOMS = 64, 4, 11


def _batch(seed):
    rng = np.random.default_rng(seed)
    f = lambda *shape: jnp.asarray(rng.normal(size=shape), jnp.float32)  # noqa: E731
    terminated = rng.random(BATCH) < 0.3
    steps = rng.integers(1, 4, BATCH)  # n-step discounts gamma ** steps
    return dict(
        tm1=f(BATCH, ACTIONS, ATOMS) * 3,
        a_tm1=jnp.asarray(rng.integers(0, ACTIONS, BATCH), jnp.int32),
        r_t=f(BATCH) * 5,
        discount_t=jnp.asarray(0.97**steps * (1 - terminated), jnp.float32),
        t=f(BATCH, ACTIONS, ATOMS) * 3,
        selector=f(BATCH, ACTIONS),
        selector_dist=f(BATCH, ACTIONS, ATOMS),
    )


class TestC51AgainstRlax(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_categorical_q_learning_and_its_double_variant(self):
        support = jnp.linspace(-10.0, 10.0, ATOMS)
        ours = self.variant(jax.vmap(categorical_td, in_axes=(0, 0, 0, 0, 0, 0, None)))
        for seed in range(3):
            b = _batch(seed)
            expected_q_t = jnp.sum(jax.nn.softmax(b["t"]) * support, -1)  # plain C51's selector
            plain = ours(
                b["tm1"], b["a_tm1"], b["r_t"], b["discount_t"], b["t"], expected_q_t, support
            )
            theirs = jax.vmap(rlax.categorical_q_learning, in_axes=(None, 0, 0, 0, 0, None, 0))(
                support, b["tm1"], b["a_tm1"], b["r_t"], b["discount_t"], support, b["t"]
            )
            np.testing.assert_allclose(plain, theirs, rtol=1e-5, atol=1e-5)
            double = ours(
                b["tm1"], b["a_tm1"], b["r_t"], b["discount_t"], b["t"], b["selector"], support
            )
            theirs = jax.vmap(
                rlax.categorical_double_q_learning, in_axes=(None, 0, 0, 0, 0, None, 0, 0)
            )(
                support,
                b["tm1"],
                b["a_tm1"],
                b["r_t"],
                b["discount_t"],
                support,
                b["t"],
                b["selector"],
            )
            np.testing.assert_allclose(double, theirs, rtol=1e-5, atol=1e-5)
            assert not np.allclose(plain, double)  # the selector matters

    def test_projection_by_hand_and_mass_kept(self):
        support = jnp.array([0.0, 1.0, 2.0])
        # 0.5 splits evenly between atoms 0 and 1; 2.5 is clipped onto atom 2; -1 onto 0
        got = categorical_projection(
            jnp.array([0.5, 2.5, -1.0]), jnp.array([0.3, 0.5, 0.2]), support
        )
        np.testing.assert_allclose(got, [0.15 + 0.2, 0.15, 0.5], rtol=1e-6)
        rng = np.random.default_rng(0)
        probs = jax.nn.softmax(jnp.asarray(rng.normal(size=7), jnp.float32))
        values = jnp.asarray(rng.uniform(-3, 3, 7), jnp.float32)
        assert abs(float(categorical_projection(values, probs, support).sum()) - 1.0) < 1e-6

    def test_cross_entropy_has_no_gradient_through_the_target(self):
        support = jnp.linspace(0.0, 4.0, 5)
        logits = jnp.zeros((2, 5))
        grad = jax.grad(lambda t: categorical_td(logits, 0, 1.0, 0.9, t, jnp.zeros(2), support))(
            jnp.ones((2, 5))
        )
        np.testing.assert_array_equal(grad, 0.0)


class TestQRDQNAgainstRlax(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_quantile_q_learning_with_huber_and_double_selector(self):
        taus = quantile_midpoints(ATOMS)
        ours = self.variant(jax.vmap(quantile_td, in_axes=(0, 0, 0, 0, 0, 0, None)))
        for seed in range(3):
            b = _batch(seed)
            for selector_dist in (b["t"], b["selector_dist"]):  # QR-DQN, and double
                got = ours(
                    b["tm1"], b["a_tm1"], b["r_t"], b["discount_t"], b["t"],
                    jnp.mean(selector_dist, -1), taus,
                )  # fmt: skip
                # rlax's distributions are (num_quantiles, num_actions)
                theirs = jax.vmap(rlax.quantile_q_learning, in_axes=(0, None, 0, 0, 0, 0, 0, None))(
                    jnp.swapaxes(b["tm1"], 1, 2), taus, b["a_tm1"], b["r_t"], b["discount_t"],
                    jnp.swapaxes(selector_dist, 1, 2), jnp.swapaxes(b["t"], 1, 2), HUBER,
                )  # fmt: skip
                np.testing.assert_allclose(got, theirs, rtol=1e-5, atol=1e-5)

    def test_midpoints(self):
        np.testing.assert_allclose(quantile_midpoints(4), [0.125, 0.375, 0.625, 0.875])
