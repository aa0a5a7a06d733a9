import jax
import numpy as np
import pytest

import purejaxdqn
from tests.helpers import cartpole_q_network, tiny_config


@pytest.fixture(scope="module")
def results():
    cfg = tiny_config()
    train = purejaxdqn.make_train(cfg)
    single = jax.jit(train)(jax.random.key(0))
    batched = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(1), 2))
    return cfg, single, batched


def test_greedy_policy_is_argmax_of_the_seeds_network(results):
    cfg, single, batched = results
    net = cartpole_q_network(cfg)
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    for result, index in ((single, 0), (batched, 0), (batched, 1)):
        params = (
            result.params
            if result is single
            else jax.tree.map(lambda x, i=index: x[i], result.params)
        )
        expected = np.argmax(np.asarray(net.apply(params, obs)), axis=-1)
        policy = purejaxdqn.greedy_policy(result, seed_index=index)
        actions = [policy(o) for o in obs]
        assert all(isinstance(a, int) for a in actions)
        np.testing.assert_array_equal(actions, expected)


def test_seed_index_and_obs_shape_are_checked(results):
    _, single, batched = results
    with pytest.raises(ValueError, match="seed_index"):
        purejaxdqn.greedy_policy(batched, seed_index=2)
    with pytest.raises(ValueError, match="seed_index"):
        purejaxdqn.greedy_policy(single, seed_index=1)
    with pytest.raises(ValueError, match="obs: expected shape"):
        purejaxdqn.greedy_policy(single)(np.zeros(3))
