"""A torso of the user's own (LayerNorm) trains through make_train and ChunkedRun, and
its policies act."""

import jax
import numpy as np
import pytest

import purejaxdqn
from purejaxdqn.agents import make_agent
from purejaxdqn.core import envs
from purejaxdqn.run.runner import ChunkedRun
from tests.helpers import LayerNormMLP, leaves_equal, tiny_config


@pytest.mark.slow  # a learning run: 4 seeds of the cartpole preset to a solve
def test_a_layer_norm_torso_solves_cartpole():
    config = purejaxdqn.presets.cartpole()
    keys = jax.random.split(jax.random.key(0), 4)
    result = jax.jit(jax.vmap(purejaxdqn.make_train(config, network=LayerNormMLP())))(keys)
    final = np.asarray(result.final_eval_returns).mean(-1)
    assert np.median(final) >= 400, final


def test_a_layer_norm_torsos_norm_parameters_train_and_its_policy_acts_on_it():
    config = tiny_config()
    torso = LayerNormMLP((16, 16))
    keys = jax.random.split(jax.random.key(0), 4)
    result = jax.jit(jax.vmap(purejaxdqn.make_train(config, network=torso)))(keys)
    init = jax.jit(jax.vmap(purejaxdqn.make_trainer(config, network=torso).init, (0, None)))
    initial = init(keys, config.hyperparams()).learner.params["params"]["torso"]
    trained = result.params["params"]["torso"]
    for norm in ("LayerNorm_0", "LayerNorm_1"):
        for name in ("scale", "bias"):
            before, after = np.asarray(initial[norm][name]), np.asarray(trained[norm][name])
            assert before.shape == after.shape == (4, 16)
            assert np.all(np.any(before != after, axis=1)), (norm, name)  # every seed's moved
    env, env_params = envs.make_env(config.env_id)
    q_values = make_agent(config, env, env_params, torso).q_values
    obs = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    policy = purejaxdqn.greedy_policy(result, seed_index=2)  # the result knows its torso
    params = jax.tree.map(lambda x: x[2], result.params)
    np.testing.assert_array_equal([policy(o) for o in obs], np.argmax(q_values(params, obs), -1))


def test_a_custom_torso_through_chunked_run_resumes_bit_for_bit():
    config = tiny_config()
    whole_run = ChunkedRun(config, num_seeds=2, seed=4, chunks=3, network=LayerNormMLP((16,)))
    whole = whole_run.finish(whole_run.run(whole_run.init()))
    # one chunk, then the state as a checkpoint holds it, continued by a new runner
    first = ChunkedRun(config, num_seeds=2, seed=4, chunks=3, network=LayerNormMLP((16,)))
    stopped = first.host(first.run(first.init(), after_chunk=lambda state: False))
    assert 0 < int(np.max(stopped.progress.period)) < config.num_periods
    again = ChunkedRun(config, num_seeds=2, seed=4, chunks=3, network=LayerNormMLP((16,)))
    resumed = again.finish(again.run(again.load(stopped)))
    assert leaves_equal(resumed, whole)
    assert "LayerNorm_0" in resumed.params["params"]["torso"]
    action = purejaxdqn.greedy_policy(resumed, seed_index=1)(np.zeros(4, np.float32))
    assert action in (0, 1)
