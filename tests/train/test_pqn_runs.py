"""PQN through the same machinery as DQN: chunked runs, a resumed run, a sweep and a
diverging seed, each against the plain `jit(vmap(make_train))` call."""

import jax
import jax.numpy as jnp
import numpy as np

import purejaxdqn
from purejaxdqn.run.runner import ChunkedRun
from tests.helpers import leaves_equal, pqn_probe_config


def config(**changes):  # CartPole-v1, 3 periods of 16 rollouts of 4 envs x 8 steps
    return pqn_probe_config(total_timesteps=3 * 512, eval_frequency=512, **changes)


def test_chunked_and_resumed_pqn_runs_equal_the_single_call_bit_for_bit():
    cfg = config()
    whole_run = ChunkedRun(cfg, num_seeds=2, seed=4, chunks=3)
    whole = whole_run.finish(whole_run.run(whole_run.init()))
    keys = jax.random.split(jax.random.key(4), 2)
    single = jax.jit(jax.vmap(purejaxdqn.make_train(cfg)))(keys)
    assert leaves_equal(whole.params, single.params)
    assert leaves_equal(whole.metrics, single.metrics)
    # one chunk, then the state as a checkpoint holds it, continued by a new runner
    first = ChunkedRun(cfg, num_seeds=2, seed=4, chunks=3)
    stopped = first.host(first.run(first.init(), after_chunk=lambda state: False))
    assert 0 < int(np.max(stopped.progress.period)) < cfg.num_periods
    assert stopped.buffer is None and stopped.learner.target_params is None
    again = ChunkedRun(cfg, num_seeds=2, seed=4, chunks=3)
    assert leaves_equal(again.finish(again.run(again.load(stopped))), whole)


def test_a_pqn_sweep_equals_each_settings_own_run():
    cfg = config()
    settings = [
        {"q_lambda": 0.65, "learning_rate": 1e-3},
        {"q_lambda": 0.95, "learning_rate": 3e-3},
    ]
    run = ChunkedRun(cfg, num_seeds=2, seed=4, chunks=2, settings=settings)
    result = run.finish(run.run(run.init()))
    keys = jax.random.split(jax.random.key(4), 2)
    for s, setting in enumerate(settings):
        alone = jax.jit(jax.vmap(purejaxdqn.make_train(cfg.replace(**setting))))(keys)
        for a, b in zip(jax.tree.leaves(alone.params), jax.tree.leaves(result.params), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b)[2 * s : 2 * s + 2])
    p = np.asarray(jax.tree.leaves(result.params)[0])
    assert not np.allclose(p[0], p[2])  # the settings really differ


def test_a_diverging_pqn_seed_is_isolated_and_keeps_finite_params():
    cfg = config()
    train = jax.jit(jax.vmap(purejaxdqn.make_train(cfg)))
    keys = jax.random.split(jax.random.key(3), 3)
    sane = cfg.hyperparams()
    stack = lambda hps: jax.tree.map(lambda *x: jnp.stack(x), *hps)  # noqa: E731
    bad = sane._replace(learning_rate=jnp.float32(jnp.inf))
    other = sane._replace(learning_rate=jnp.float32(3e-4))
    with_bad = train(keys, stack([sane, bad, sane]))
    with_sane = train(keys, stack([sane, other, sane]))
    assert np.asarray(with_bad.state.progress.diverged).tolist() == [False, True, False]
    assert not np.asarray(with_sane.state.progress.diverged).any()
    for leaf in jax.tree.leaves(with_bad.params):
        assert np.isfinite(np.asarray(leaf)).all()
    assert int(with_bad.state.progress.period[1]) == 1
    for a, b in zip(jax.tree.leaves(with_bad.params), jax.tree.leaves(with_sane.params)):
        np.testing.assert_array_equal(np.asarray(a)[[0, 2]], np.asarray(b)[[0, 2]])
