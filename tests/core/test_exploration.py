import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxdqn.core import exploration


@pytest.mark.parametrize(
    "step, expected", [(0, 1.0), (50_000, 0.505), (100_000, 0.01), (250_000, 0.01), (-5, 1.0)]
)
def test_linear_epsilon_matches_notebook_interp(step, expected):
    eps = exploration.linear_epsilon(jnp.float32(step), 1.0, 0.01, 100_000.0)
    np.testing.assert_allclose(float(eps), np.interp(step, [0, 100_000], [1.0, 0.01]), rtol=1e-6)
    np.testing.assert_allclose(float(eps), expected, rtol=1e-6)


def test_linear_epsilon_zero_decay_is_end_value():
    assert float(exploration.linear_epsilon(0.0, 1.0, 0.05, 0.0)) == pytest.approx(0.05)


def test_epsilon_zero_is_greedy_and_one_is_uniform():
    q = jnp.tile(jnp.array([[0.0, 2.0, 1.0]]), (20_000, 1))
    greedy = exploration.epsilon_greedy(jax.random.key(0), q, 0.0)
    assert np.all(np.asarray(greedy) == 1)
    uniform = np.asarray(exploration.epsilon_greedy(jax.random.key(1), q, 1.0))
    freq = np.bincount(uniform, minlength=3) / len(uniform)
    np.testing.assert_allclose(freq, [1 / 3] * 3, atol=0.02)
    half = np.asarray(exploration.epsilon_greedy(jax.random.key(2), q, 0.5))
    # greedy half the time plus a third of the random half
    assert abs(np.mean(half == 1) - (0.5 + 0.5 / 3)) < 0.02
