"""A seed whose update goes non-finite is detected inside the program, stops learning,
is flagged, and leaves every other seed bit-for-bit as it was."""

import jax
import jax.numpy as jnp
import numpy as np

import purejaxdqn
from tests.helpers import tiny_config


def stack(hps):
    return jax.tree.map(lambda *x: jnp.stack(x), *hps)


def test_diverging_seed_is_isolated_flagged_and_keeps_finite_params():
    cfg = tiny_config(total_timesteps=200 + 400 * 4)
    train = jax.jit(jax.vmap(purejaxdqn.make_train(cfg)))
    keys = jax.random.split(jax.random.key(3), 3)
    sane = cfg.hyperparams()
    # an infinite learning rate makes the first update non-finite
    bad = sane._replace(learning_rate=jnp.float32(jnp.inf))
    other = sane._replace(learning_rate=jnp.float32(3e-4))
    with_bad = train(keys, stack([sane, bad, sane]))
    with_sane = train(keys, stack([sane, other, sane]))

    diverged = np.asarray(with_bad.state.progress.diverged)
    assert diverged.tolist() == [False, True, False]
    assert not np.asarray(with_sane.state.progress.diverged).any()
    first_update_step = cfg.learning_starts + cfg.train_frequency
    assert int(with_bad.state.progress.diverged_step[1]) == first_update_step
    assert np.asarray(with_bad.metrics.diverged)[1].all()
    # the bad seed kept its last finite (here: initial) parameters and stopped after one period
    for leaf in jax.tree.leaves(with_bad.params):
        assert np.isfinite(np.asarray(leaf)).all()
    assert int(with_bad.state.progress.period[1]) == 1
    # seeds 0 and 2 are bit-for-bit those of the run where seed 1 was sane
    for a, b in zip(jax.tree.leaves(with_bad), jax.tree.leaves(with_sane), strict=True):
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        a, b = np.asarray(a), np.asarray(b)
        if a.ndim and a.shape[0] == 3:
            np.testing.assert_array_equal(a[[0, 2]], b[[0, 2]])

    [s0, s1, s2] = purejaxdqn.seed_summaries(with_bad)
    assert (s0["diverged"], s1["diverged"], s2["diverged"]) == (False, True, False)
    assert s1["diverged_env_step"] == first_update_step and s0["diverged_env_step"] is None


def test_healthy_runs_are_not_flagged():
    r = jax.jit(purejaxdqn.make_train(tiny_config()))(jax.random.key(0))
    p = r.state.progress
    assert not bool(p.diverged) and int(p.diverged_step) == -1
