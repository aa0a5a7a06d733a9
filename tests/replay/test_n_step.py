"""n-step transitions: by hand, and against rlax.n_step_bootstrapped_returns across
terminations and time limits."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from purejaxdqn.core import losses
from purejaxdqn.replay import n_step
from purejaxdqn.replay.transition import Transition

GAMMA = 0.9


def _step(obs, reward, next_obs, terminated):
    """A one-step transition for a batch of envs; obs are scalars (one per env)."""
    obs = jnp.asarray(obs, jnp.float32)
    return Transition(
        obs=obs[:, None],
        action=jnp.zeros(obs.shape, jnp.uint8),
        reward=jnp.asarray(reward, jnp.float32),
        next_obs=jnp.asarray(next_obs, jnp.float32)[:, None],
        terminated=jnp.asarray(terminated, bool),
    )


def _emit_all(steps, ended, n, gamma):
    """Pushes a list of one-step transitions; returns the emitted n-step ones (after the
    first n - 1 pushes), stacked along a leading time axis."""
    window = n_step.init(steps[0], n)

    def body(window, xs):
        step, end = xs
        window = n_step.push(window, step, end)
        return window, n_step.oldest_n_step(window, gamma)

    stacked = jax.tree.map(lambda *x: jnp.stack(x), *steps)
    _, out = jax.lax.scan(body, window, (stacked, jnp.asarray(ended)))
    return jax.tree.map(lambda x: x[n - 1 :], out)


class TestByHand(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_three_step_cases(self):
        # Three envs, three steps each. env 0: no episode end; env 1: terminates at its
        # second step; env 2: truncated (time limit) at its first step, final obs 7.
        steps = [
            _step([0, 0, 0], [1, 1, 1], [1, 1, 7], [False, False, False]),
            _step([1, 1, 0], [2, 2, 2], [2, 9, 1], [False, True, False]),
            _step([2, 0, 1], [4, 4, 4], [3, 1, 2], [False, False, False]),
        ]
        ended = [[False, False, True], [False, True, False], [False, False, False]]
        emit = self.variant(lambda s, e: _emit_all(s, e, 3, jnp.float32(GAMMA)))
        out = jax.tree.map(lambda x: np.asarray(x[0]), emit(steps, ended))
        np.testing.assert_allclose(out.reward, [1 + 0.9 * 2 + 0.81 * 4, 1 + 0.9 * 2, 1], rtol=1e-6)
        np.testing.assert_array_equal(out.steps, [3, 2, 1])
        np.testing.assert_array_equal(out.terminated, [False, True, False])
        np.testing.assert_array_equal(out.next_obs[:, 0], [3, 9, 7])  # 7: the final obs
        np.testing.assert_array_equal(out.obs[:, 0], [0, 0, 0])
        discount = losses.n_step_discount(out.terminated, out.steps, jnp.float32(GAMMA))
        np.testing.assert_allclose(np.asarray(discount), [0.9**3, 0.0, 0.9], rtol=1e-6)


def _episodes(ends, length):
    """[start, stop) of each episode in a sequence with episode ends at `ends`."""
    bounds, start = [], 0
    for end in sorted(ends):
        bounds.append((start, end + 1))
        start = end + 1
    bounds.append((start, length))
    return bounds


@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("jit", [False, True])
def test_targets_match_rlax_across_terminations_and_truncations(n, jit):
    """reward + discount * v(next_obs) of every emitted transition equals rlax's n-step
    bootstrapped return computed episode by episode (a truncated episode bootstraps
    from the value of its final observation, a terminated one does not)."""
    rng = np.random.default_rng(n)
    length, num_envs = 24, 3
    terminations = [{4, 15}, {2}, set()]
    truncations = [{11}, {3, 9, 10}, {20}]  # env 1 has a one-step episode (step 10)
    rewards = rng.normal(size=(length, num_envs)).astype(np.float32)
    values = rng.normal(size=1000).astype(np.float32)  # v of observation id
    # observation ids: unique per step; a final observation has its own id
    obs = np.arange(length * num_envs).reshape(length, num_envs).astype(np.float32)
    next_obs = np.where(np.arange(length)[:, None] < length - 1, np.roll(obs, -1, axis=0), 999)
    term = np.zeros((length, num_envs), bool)
    trunc = np.zeros((length, num_envs), bool)
    for e in range(num_envs):
        term[sorted(terminations[e]), e] = True
        trunc[sorted(truncations[e]), e] = True
    next_obs = np.where(trunc, 500 + obs, next_obs)  # the final observation, not a reset
    steps = [_step(obs[t], rewards[t], next_obs[t], term[t]) for t in range(length)]
    emit = jax.jit(_emit_all, static_argnums=2) if jit else _emit_all
    out = emit(steps, term | trunc, n, jnp.float32(GAMMA))
    v_next = values[np.asarray(out.next_obs[..., 0]).astype(int)]
    discount = np.asarray(losses.n_step_discount(out.terminated, out.steps, jnp.float32(GAMMA)))
    ours = np.asarray(out.reward) + discount * v_next  # (length - n + 1, num_envs)

    rlax_returns = (
        jax.jit(rlax.n_step_bootstrapped_returns, static_argnums=3)
        if jit
        else (rlax.n_step_bootstrapped_returns)
    )
    for e in range(num_envs):
        expected = np.full(length, np.nan, np.float32)
        for start, stop in _episodes(terminations[e] | truncations[e], length):
            segment = slice(start, stop)
            expected[segment] = np.asarray(
                rlax_returns(
                    jnp.asarray(rewards[segment, e]),
                    jnp.asarray(GAMMA * (1.0 - term[segment, e]), jnp.float32),
                    jnp.asarray(values[next_obs[segment, e].astype(int)]),
                    n,
                )
            )
        # starts whose n steps all lie in the sequence are emitted
        np.testing.assert_allclose(ours[:, e], expected[: length - n + 1], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(np.asarray(out.obs[:, e, 0]), obs[: length - n + 1, e])
