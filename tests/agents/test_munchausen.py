"""The Munchausen target by hand (rlax has none), jitted and not."""

import chex
import jax.numpy as jnp
import numpy as np

from purejaxdqn.agents.munchausen import munchausen_target


class TestMunchausenTarget(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_a_case_by_hand(self):
        q_tm1 = jnp.array([1.0, 2.0])  # the target network's at s_{t-1}
        q_t = jnp.array([0.5, -0.5])  # and at s_t
        alpha, tau, clip = 0.9, 0.5, -1.0
        got = self.variant(munchausen_target)(q_tm1, 0, 1.5, 0.9, q_t, alpha, tau, clip)
        # log pi(a=0 | s_tm1) = 1/tau - logsumexp([1, 2] / tau) = 2 - log(e^2 + e^4)
        log_pi_0 = 2.0 - np.log(np.exp(2.0) + np.exp(4.0))  # -2.127: clipped to -1
        assert log_pi_0 < -1.0
        bonus = alpha * tau * -1.0
        pi_t = np.exp([1.0, -1.0]) / np.exp([1.0, -1.0]).sum()  # softmax(q_t / tau)
        soft_v = np.sum(pi_t * (np.array([0.5, -0.5]) - tau * np.log(pi_t)))
        np.testing.assert_allclose(float(got), 1.5 + bonus + 0.9 * soft_v, rtol=1e-6)
        # the greedy action's bonus is not clipped: log pi(a=1) = 2 - log(e^2 + e^4) + 2
        got_1 = munchausen_target(q_tm1, 1, 1.5, 0.9, q_t, alpha, tau, clip)
        log_pi_1 = 4.0 - np.log(np.exp(2.0) + np.exp(4.0))
        np.testing.assert_allclose(float(got_1), 1.5 + alpha * tau * log_pi_1 + 0.9 * soft_v, 1e-6)

    def test_alpha_zero_and_small_temperature_give_the_dqn_target(self):
        q_t = jnp.array([0.3, 1.7, -0.2])
        got = munchausen_target(jnp.zeros(3), 1, 1.0, 0.9, q_t, 0.0, 1e-4, -1.0)
        np.testing.assert_allclose(float(got), 1.0 + 0.9 * 1.7, rtol=1e-4)
        terminal = munchausen_target(jnp.zeros(3), 1, 1.0, 0.0, q_t, 0.0, 0.03, -1.0)
        np.testing.assert_allclose(float(terminal), 1.0)
