import chex
import jax.numpy as jnp
import numpy as np
import optax

from purejaxdqn.agents import dqn
from purejaxdqn.core import losses

Q_T_TARGET = jnp.array([[1.0, 3.0], [2.0, -1.0]])
Q_T_ONLINE = jnp.array([[5.0, 0.0], [0.0, 4.0]])  # picks action 0, then action 1
Q_TM1 = jnp.array([[0.5, 1.5], [2.0, 0.0]])
A_TM1 = jnp.array([1, 0])
R_T = jnp.array([1.0, -2.0])


class TestTargets(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_dqn_target_uses_max_of_target_net(self):
        f = self.variant(dqn.q_learning_target)
        np.testing.assert_allclose(float(f(1.0, 0.9, Q_T_TARGET[0])), 1.0 + 0.9 * 3.0, rtol=1e-6)
        assert float(f(-2.0, 0.0, Q_T_TARGET[1])) == -2.0  # terminal: no bootstrap

    @chex.variants(with_jit=True, without_jit=True)
    def test_double_dqn_target_selects_with_online_evaluates_with_target(self):
        f = self.variant(dqn.double_q_learning_target)
        # online argmax is action 0, whose target value is 1 (not the max, 3)
        np.testing.assert_allclose(float(f(1.0, 0.9, Q_T_TARGET[0], Q_T_ONLINE[0])), 1.0 + 0.9)
        np.testing.assert_allclose(float(f(0.0, 0.5, Q_T_TARGET[1], Q_T_ONLINE[1])), -0.5)

    @chex.variants(with_jit=True, without_jit=True)
    def test_batched_td_errors_by_hand(self):
        f = self.variant(dqn.batched_td_errors)
        disc = jnp.array([0.9, 0.9])
        plain = f(Q_TM1, A_TM1, R_T, disc, Q_T_TARGET, None)
        # targets: 1 + .9*3 = 3.7 ; -2 + .9*2 = -0.2 ; chosen q: 1.5, 2.0
        np.testing.assert_allclose(np.asarray(plain), [3.7 - 1.5, -0.2 - 2.0], rtol=1e-6)
        ddqn = f(Q_TM1, A_TM1, R_T, disc, Q_T_TARGET, Q_T_ONLINE)
        # targets: 1 + .9*1 = 1.9 ; -2 + .9*(-1) = -2.9
        np.testing.assert_allclose(np.asarray(ddqn), [1.9 - 1.5, -2.9 - 2.0], rtol=1e-6)

    def test_terminated_cuts_bootstrap_truncated_does_not(self):
        gamma = jnp.float32(0.99)
        terminated = jnp.array([True, False])  # second transition: truncated (time limit)
        disc = losses.discount(terminated, gamma)
        np.testing.assert_allclose(np.asarray(disc), [0.0, 0.99])
        td = dqn.batched_td_errors(Q_TM1, A_TM1, R_T, disc, Q_T_TARGET, None)
        np.testing.assert_allclose(np.asarray(td), [1.0 - 1.5, -2.0 + 0.99 * 2.0 - 2.0], rtol=1e-6)

    def test_td_error_has_no_gradient_through_target(self):
        import jax

        g = jax.grad(lambda t: dqn.td_error(Q_TM1[0], A_TM1[0], t))(jnp.float32(2.0))
        assert float(g) == 0.0

    def test_losses(self):
        td = jnp.array([0.5, -3.0])
        np.testing.assert_allclose(float(losses.td_loss(td, "mse")), (0.25 + 9.0) / 2)
        # Huber, delta 1: 0.5*0.5**2 and 3 - 0.5
        np.testing.assert_allclose(float(losses.td_loss(td, "huber")), (0.125 + 2.5) / 2)
        np.testing.assert_allclose(
            float(losses.td_loss(td, "huber")), float(jnp.mean(optax.huber_loss(td)))
        )
