import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import purejaxdqn
from tests.helpers import leaves_equal, tiny_config


@pytest.fixture(scope="module")
def cfg():
    return tiny_config()


@pytest.fixture(scope="module")
def vmapped(cfg):
    train = purejaxdqn.make_train(cfg)
    keys = jax.random.split(jax.random.key(0), 3)
    return keys, jax.jit(jax.vmap(train))(keys)


def test_result_shapes(cfg, vmapped):
    _, r = vmapped
    chex.assert_shape(r.final_eval_returns, (3, cfg.eval_episodes))
    for leaf in r.metrics:
        chex.assert_shape(leaf, (3, cfg.num_periods))
    steps = np.asarray(r.metrics.env_step)
    expected = cfg.eval_frequency * np.arange(1, cfg.num_periods + 1)  # warm-up included
    np.testing.assert_array_equal(steps, np.tile(expected, (3, 1)))
    assert np.all(np.isfinite(np.asarray(r.metrics.loss)))


def test_same_key_gives_identical_results(cfg):
    train = jax.jit(purejaxdqn.make_train(cfg))
    a = train(jax.random.key(7))
    b = train(jax.random.key(7))
    c = jax.jit(purejaxdqn.make_train(cfg))(jax.random.key(7))  # a fresh compile too
    assert leaves_equal(a, b) and leaves_equal(a, c)


def test_vmapped_seeds_are_independent_and_match_single_runs(cfg, vmapped):
    keys, r = vmapped
    p = [np.asarray(x) for x in jax.tree.leaves(r.params)]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.array_equal(p[0][i], p[0][j])  # different network inits
    init_obs = np.asarray(r.state.buffer.storage.obs[:, 0])
    assert len({tuple(o) for o in init_obs}) == 3  # different env resets
    single = jax.jit(purejaxdqn.make_train(cfg))(keys[1])
    # Same key, same run: a seed's result does not depend on its neighbours in the batch.
    for a, b in zip(jax.tree.leaves(single.params), jax.tree.leaves(r.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b)[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(
        np.asarray(single.metrics.env_step), np.asarray(r.metrics.env_step)[1]
    )


def test_no_retracing_across_keys_and_traced_hyperparameters(cfg):
    traces = 0
    train = purejaxdqn.make_train(cfg)

    def counted(key, hp):
        nonlocal traces
        traces += 1
        return train(key, hp)

    jitted = jax.jit(counted)
    hp = cfg.hyperparams()
    jitted(jax.random.key(0), hp)
    jitted(jax.random.key(1), hp)
    jitted(jax.random.key(1), hp._replace(learning_rate=jnp.float32(3e-4), gamma=jnp.float32(0.9)))
    jitted(jax.random.key(2), cfg.replace(tau=0.5, epsilon_end=0.1).hyperparams())
    assert traces == 1


def test_traced_hyperparameters_change_the_run(cfg):
    train = jax.jit(purejaxdqn.make_train(cfg))
    hp = cfg.hyperparams()
    a = train(jax.random.key(0), hp)
    b = train(jax.random.key(0), hp._replace(learning_rate=jnp.float32(1e-2)))
    assert not leaves_equal(a.params, b.params)


def test_vmap_over_hyperparameters(cfg):
    train = purejaxdqn.make_train(cfg)
    hps = jax.tree.map(
        lambda *x: jnp.stack(x), cfg.hyperparams(), cfg.replace(learning_rate=1e-2).hyperparams()
    )
    r = jax.jit(jax.vmap(train, in_axes=(None, 0)))(jax.random.key(0), hps)
    single = jax.jit(train)(jax.random.key(0), cfg.replace(learning_rate=1e-2).hyperparams())
    np.testing.assert_allclose(
        np.asarray(jax.tree.leaves(r.params)[0][1]),
        np.asarray(jax.tree.leaves(single.params)[0]),
        rtol=1e-5,
        atol=1e-6,
    )


def test_raw_and_typed_keys_seed_the_same_run(cfg):
    train = jax.jit(purejaxdqn.make_train(cfg))
    assert leaves_equal(train(jax.random.PRNGKey(3)).params, train(jax.random.key(3)).params)


@pytest.mark.parametrize("key_impl", ["threefry2x32"])
def test_the_key_impl_changes_the_random_streams_not_the_program(cfg, key_impl):
    a = jax.jit(purejaxdqn.make_train(cfg))(jax.random.key(3))
    b = jax.jit(purejaxdqn.make_train(cfg.replace(key_impl=key_impl)))(jax.random.key(3))
    assert not leaves_equal(a.params, b.params)
    assert jax.random.key_impl(b.state.key) == jax.random.key_impl(jax.random.key(0, impl=key_impl))
    chex.assert_trees_all_equal_shapes(a.params, b.params)


def test_continuous_action_env_is_refused():
    with pytest.raises(ValueError, match="continuous action space"):
        purejaxdqn.make_train(purejaxdqn.DQNConfig(env_id="Pendulum-v1"))


def test_chunked_run_equals_single_call(cfg):
    """Running the periods in chunks (as a runner with progress would) changes nothing."""
    trainer = purejaxdqn.make_trainer(cfg)
    hp = cfg.hyperparams()
    key = jax.random.key(5)
    init = jax.jit(trainer.init)
    run = jax.jit(trainer.run)
    state = init(key, hp)
    for stop in range(1, cfg.num_periods + 1):
        state = run(state, hp, stop)
    chunked = jax.jit(trainer.finish)(state, hp)
    whole = jax.jit(purejaxdqn.make_train(cfg))(jax.random.key(5))
    assert leaves_equal(chunked, whole)


def test_frozen_seed_stops_learning_and_repeats_its_last_row():
    # A threshold every greedy policy reaches: the seed freezes after its first period.
    cfg = tiny_config(solve_threshold=0.0, freeze_when_solved=True)
    r = jax.jit(purejaxdqn.make_train(cfg))(jax.random.key(0))
    frozen = np.asarray(r.metrics.frozen)
    assert frozen.all()
    steps = np.asarray(r.metrics.env_step)
    assert np.all(steps == cfg.eval_frequency)  # no steps after freezing
    assert int(r.state.progress.period) == 1


def test_frozen_seeds_under_vmap_match_their_single_runs():
    """Seeds that freeze at different periods: the batched early exit changes no seed."""
    cfg = tiny_config(total_timesteps=200 + 400 * 6, solve_threshold=25.0, freeze_when_solved=True)
    train = purejaxdqn.make_train(cfg)
    keys = jax.random.split(jax.random.key(11), 4)
    batched = jax.jit(jax.vmap(train))(keys)
    periods = np.asarray(batched.state.progress.period)
    assert len(set(periods.tolist())) > 1, periods  # the seeds really stop at different times
    single = jax.jit(train)
    for i, key in enumerate(keys):
        alone = single(key)
        assert int(alone.state.progress.period) == periods[i]
        np.testing.assert_array_equal(
            np.asarray(alone.metrics.env_step), np.asarray(batched.metrics.env_step)[i]
        )
        for a, b in zip(
            jax.tree.leaves(alone.params), jax.tree.leaves(batched.params), strict=True
        ):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b)[i], rtol=1e-5, atol=1e-6)
        # a frozen seed's later rows repeat its last trained row
        frozen_rows = np.asarray(batched.metrics.eval_return_mean)[i, periods[i] - 1 :]
        assert np.all(frozen_rows == frozen_rows[0])


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_targets_update_every_target_update_frequency_env_steps(cfg, tau):
    """Every 10th iteration (40 env steps) here, and so at the end of every period of 100
    iterations: a hard copy leaves the target equal to the final params, Polyak does not."""
    c = cfg.replace(tau=tau)
    assert c.iterations_per_period % c.target_update_iterations == 0
    r = jax.jit(purejaxdqn.make_train(c))(jax.random.key(1))
    assert leaves_equal(r.state.learner.target_params, r.params) == (tau == 1.0)


def test_target_update_off_the_period_boundary(cfg):
    """Updates every 14 iterations in periods of 100: the last one is 6 iterations before
    the end, so a hard copy's target differs from the final params."""
    c = cfg.replace(target_update_frequency=56)
    assert c.iterations_per_period % c.target_update_iterations != 0
    r = jax.jit(purejaxdqn.make_train(c))(jax.random.key(1))
    assert not leaves_equal(r.state.learner.target_params, r.params)


def _after_periods(cfg, periods, key=0):
    """The state after `periods` eval periods of a single run."""
    trainer = purejaxdqn.make_trainer(cfg)
    hp = cfg.hyperparams()
    state = jax.jit(trainer.init)(jax.random.key(key), hp)
    return jax.jit(trainer.run)(state, hp, periods)


def test_warm_up_acts_at_random_stores_everything_and_does_not_learn():
    # eval_frequency == learning_starts: the first period is the warm-up, nothing else.
    cfg = tiny_config(eval_frequency=200, total_timesteps=600, epsilon_start=0.3)
    init = jax.jit(purejaxdqn.make_trainer(cfg).init)(jax.random.key(0), cfg.hyperparams())
    warm = _after_periods(cfg, 1)
    assert int(warm.progress.env_step) == cfg.learning_starts
    assert int(warm.buffer.size) == cfg.learning_starts  # every transition stored
    assert leaves_equal(warm.learner, init.learner)  # params, target and Adam untouched
    assert np.isnan(warm.progress.history.loss[0])  # no update counted
    # The decay starts with learning: the period's last row shows the next step's rate.
    np.testing.assert_allclose(warm.progress.history.epsilon[0], 0.3)
    # Yet the warm-up's actions were uniform, not 70% greedy: they do not depend on the
    # network (another width, the same actions).
    other = _after_periods(cfg.replace(hidden_sizes=(5, 7)), 1)
    np.testing.assert_array_equal(warm.buffer.storage.action, other.buffer.storage.action)
    actions = np.asarray(warm.buffer.storage.action)[: cfg.learning_starts]
    assert 0.35 < actions.mean() < 0.65  # both CartPole actions, about evenly
    # Learning starts right after: the next period updates every iteration.
    learned = _after_periods(cfg, 2)
    assert np.isfinite(learned.progress.history.loss[1])
    assert not leaves_equal(learned.learner.params, init.learner.params)
    adam = learned.learner.opt_state[1][0]  # clip_by_global_norm, then Adam (count, mu, nu)
    assert int(adam.count) == cfg.iterations_per_period * cfg.gradient_steps


def test_n_step_warm_up_skips_the_filling_window_and_per_keeps_its_priorities():
    cfg = tiny_config(eval_frequency=200, total_timesteps=600, n_step=3, prioritized_replay=True)
    warm = _after_periods(cfg, 1)
    pending = (cfg.n_step - 1) * cfg.num_envs  # the window's first n - 1 steps
    assert int(warm.buffer.ring.size) == cfg.learning_starts - pending
    # New transitions enter at priority 1; the warm-up's dropped updates changed none.
    priorities = np.asarray(warm.buffer.tree[-1])
    size = int(warm.buffer.ring.size)
    np.testing.assert_array_equal(priorities[:size], 1.0)
    np.testing.assert_array_equal(priorities[size:], 0.0)
    assert float(warm.buffer.max_priority) == 1.0
