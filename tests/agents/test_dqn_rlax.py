"""Our TD targets and errors against rlax's, an independent implementation, on random
batches (rlax is a test-only dependency)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import rlax

from purejaxdqn.agents import dqn
from purejaxdqn.core import losses

BATCH, ACTIONS = 64, 5


def _batch(seed, n_step=False):
    rng = np.random.default_rng(seed)
    terminated = rng.random(BATCH) < 0.3
    steps = rng.integers(1, 6, BATCH) if n_step else np.ones(BATCH, int)
    return dict(
        q_tm1=jnp.asarray(rng.normal(size=(BATCH, ACTIONS)), jnp.float32),
        a_tm1=jnp.asarray(rng.integers(0, ACTIONS, BATCH), jnp.int32),
        r_t=jnp.asarray(rng.normal(size=BATCH), jnp.float32),
        terminated=jnp.asarray(terminated),
        steps=jnp.asarray(steps, jnp.uint8),
        q_t_target=jnp.asarray(rng.normal(size=(BATCH, ACTIONS)), jnp.float32),
        q_t_online=jnp.asarray(rng.normal(size=(BATCH, ACTIONS)), jnp.float32),
    )


class TestAgainstRlax(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_dqn_td_errors_match_rlax_q_learning(self):
        for seed in (0, 1):
            b = _batch(seed)
            discount = losses.discount(b["terminated"], jnp.float32(0.97))
            ours = self.variant(dqn.batched_td_errors, static_argnums=5)(
                b["q_tm1"], b["a_tm1"], b["r_t"], discount, b["q_t_target"], None
            )
            theirs = self.variant(jax.vmap(rlax.q_learning))(
                b["q_tm1"], b["a_tm1"], b["r_t"], discount, b["q_t_target"]
            )
            np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-6, atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_double_dqn_td_errors_match_rlax_double_q_learning(self):
        b = _batch(2)
        discount = losses.discount(b["terminated"], jnp.float32(0.99))
        ours = self.variant(dqn.batched_td_errors)(
            b["q_tm1"], b["a_tm1"], b["r_t"], discount, b["q_t_target"], b["q_t_online"]
        )
        theirs = self.variant(jax.vmap(rlax.double_q_learning))(
            b["q_tm1"], b["a_tm1"], b["r_t"], discount, b["q_t_target"], b["q_t_online"]
        )
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-6, atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_n_step_td_errors_match_rlax_with_discount_gamma_to_the_steps(self):
        # An n-step transition is a one-step transition whose discount is gamma ** steps
        # (0 after a terminal state): rlax's q_learning with that discount.
        b = _batch(3, n_step=True)
        gamma = jnp.float32(0.95)
        discount = self.variant(losses.n_step_discount)(b["terminated"], b["steps"], gamma)
        expected = np.where(np.asarray(b["terminated"]), 0.0, 0.95 ** np.asarray(b["steps"]))
        np.testing.assert_allclose(np.asarray(discount), expected, rtol=1e-6)
        for online in (None, b["q_t_online"]):
            ours = dqn.batched_td_errors(
                b["q_tm1"], b["a_tm1"], b["r_t"], discount, b["q_t_target"], online
            )
            if online is None:
                theirs = jax.vmap(rlax.q_learning)(
                    b["q_tm1"], b["a_tm1"], b["r_t"], discount, b["q_t_target"]
                )
            else:
                theirs = jax.vmap(rlax.double_q_learning)(
                    b["q_tm1"], b["a_tm1"], b["r_t"], discount, b["q_t_target"], online
                )
            np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-6, atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_losses_match_rlax_l2_and_huber(self):
        td = _batch(4)["r_t"] * 3.0  # spans both sides of the Huber kink
        # rlax.l2_loss is 0.5 x^2; our MSE is the plain mean square.
        np.testing.assert_allclose(
            float(self.variant(losses.td_loss, static_argnums=1)(td, "mse")),
            2.0 * float(jnp.mean(rlax.l2_loss(td))),
            rtol=1e-6,
        )
        np.testing.assert_allclose(
            float(self.variant(losses.td_loss, static_argnums=1)(td, "huber")),
            float(jnp.mean(rlax.huber_loss(td, 1.0))),
            rtol=1e-6,
        )
        w = jnp.linspace(0.1, 1.0, td.shape[0])
        for kind, per in (("mse", 2.0 * rlax.l2_loss(td)), ("huber", rlax.huber_loss(td, 1.0))):
            np.testing.assert_allclose(
                float(losses.weighted_td_loss(td, w, kind)), float(jnp.mean(w * per)), rtol=1e-6
            )
