"""PQN's Q(lambda) returns against rlax.q_lambda across terminations and time limits."""

import chex
import jax.numpy as jnp
import numpy as np
import rlax

from purejaxdqn.agents.pqn import q_lambda_returns

T, ACTIONS = 40, 3


def _trajectory(seed):
    """Random rewards and Q-values; episodes that end by termination or by a time limit.
    q_t[t] are the Q-values of the state step t led to: at a truncated step, of its final
    observation (not of the next episode's first)."""
    rng = np.random.default_rng(seed)
    terminated = rng.random(T) < 0.1
    truncated = ~terminated & (rng.random(T) < 0.1)
    return dict(
        q_tm1=jnp.asarray(rng.normal(size=(T, ACTIONS)), jnp.float32),
        a_tm1=jnp.asarray(rng.integers(0, ACTIONS, T), jnp.int32),
        r_t=jnp.asarray(rng.normal(size=T), jnp.float32),
        q_t=jnp.asarray(rng.normal(size=(T, ACTIONS)), jnp.float32),
        terminated=terminated,
        done=terminated | truncated,
    )


class TestQLambdaAgainstRlax(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_td_errors_equal_rlax_q_lambda_with_lambda_zero_where_episodes_end(self):
        for seed, lam in ((0, 0.95), (1, 0.65), (2, 0.0), (3, 1.0)):
            b = _trajectory(seed)
            assert b["done"].any() and (b["done"] & ~b["terminated"]).any()
            discount = jnp.asarray(0.99 * (1 - b["terminated"]), jnp.float32)
            lambda_t = jnp.asarray(lam * (1 - b["done"]), jnp.float32)
            returns = self.variant(q_lambda_returns)(b["r_t"], discount, b["q_t"], lambda_t)
            ours = returns - b["q_tm1"][jnp.arange(T), b["a_tm1"]]
            theirs = rlax.q_lambda(b["q_tm1"], b["a_tm1"], b["r_t"], discount, b["q_t"], lambda_t)
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)

    def test_a_time_limit_bootstraps_from_the_final_state_alone(self):
        # two steps, the first truncated: its return is r + gamma max q(final), not mixed
        # with the second (another episode's) return
        r = jnp.array([1.0, 5.0])
        q_t = jnp.array([[2.0, 3.0], [10.0, 0.0]])
        returns = q_lambda_returns(r, jnp.array([0.5, 0.5]), q_t, jnp.array([0.0, 0.9]))
        np.testing.assert_allclose(returns, [1.0 + 0.5 * 3.0, 5.0 + 0.5 * 10.0])
        # untruncated, lambda mixes in the next step's return
        mixed = q_lambda_returns(r, jnp.array([0.5, 0.5]), q_t, jnp.array([0.9, 0.9]))
        np.testing.assert_allclose(mixed[0], 1.0 + 0.5 * (0.1 * 3.0 + 0.9 * 10.0))
