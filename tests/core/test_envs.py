"""Every discrete-action gymnax environment trains with no code change; continuous-action
ones are refused with a clear message."""

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments import spaces

import purejaxdqn
from purejaxdqn import cli, presets
from purejaxdqn.core.envs import CONTINUOUS_ACTION_ENVS
from tests.helpers import tiny_config

# MNISTBandit-bsuite downloads MNIST when it is made: not possible offline, so it is
# exercised only where the download works (it is a Discrete(10) bandit).
NEEDS_DOWNLOAD = {"MNISTBandit-bsuite"}


def _action_space(env_id):
    env, env_params = gymnax.make(env_id)
    return env.action_space(env_params)


def discrete_env_ids():
    return [e for e in gymnax.registered_envs if e not in CONTINUOUS_ACTION_ENVS]


# In CI: an image observation (conv torso) and a scalar integer one (MLP); CartPole runs
# in every other test file. The other discrete envs run under `pytest -m slow`.
REPRESENTATIVE = {"Breakout-MinAtar", "FrozenLake-misc"}


def test_continuous_action_list_matches_gymnax():
    continuous = set()
    for env_id in gymnax.registered_envs:
        if env_id in NEEDS_DOWNLOAD:
            continue
        if not isinstance(_action_space(env_id), spaces.Discrete):
            continuous.add(env_id)
    assert continuous == set(CONTINUOUS_ACTION_ENVS)


@pytest.mark.parametrize("env_id", CONTINUOUS_ACTION_ENVS)
def test_continuous_action_envs_are_refused(env_id):
    with pytest.raises(ValueError, match=rf"^env_id: {env_id} has a continuous action space; "):
        purejaxdqn.DQNConfig(env_id=env_id)


def test_a_custom_continuous_env_is_refused_by_make_train():
    env, env_params = gymnax.make("Pendulum-v1")
    with pytest.raises(ValueError, match="continuous action space"):
        purejaxdqn.make_train(tiny_config(), env=env, env_params=env_params)


def _tiny_run(env_id):
    # Two eval periods of 400 env steps; the first holds the 200 of warm-up.
    cfg = tiny_config(env_id=env_id, hidden_sizes=(8,), eval_episodes=2, total_timesteps=800)
    result = jax.jit(purejaxdqn.make_train(cfg))(jax.random.key(0))
    assert np.all(np.isfinite(np.asarray(result.metrics.loss)))
    assert np.all(np.isfinite(np.asarray(result.final_eval_returns)))
    assert int(result.state.progress.env_step) == 800
    return result


@pytest.mark.parametrize(
    "env_id",
    [
        pytest.param(e, marks=() if e in REPRESENTATIVE else pytest.mark.slow)
        for e in discrete_env_ids()
        if e not in NEEDS_DOWNLOAD
    ],
)
def test_every_discrete_env_trains_with_no_code_change(env_id):
    _tiny_run(env_id)


@pytest.mark.parametrize("env_id, name", sorted(presets.ENV_PRESETS.items()))
def test_env_presets_are_for_their_env(env_id, name):
    assert presets.get(name).env_id == env_id
    assert presets.for_env(env_id) == (name, presets.get(name))


def _resolve(argv):
    return cli.resolve_config(cli.build_parser().parse_args(["train", *argv]))


def test_train_env_uses_that_envs_preset_and_says_so(capsys):
    cfg = _resolve(["--env", "Acrobot-v1"])
    assert cfg == presets.acrobot()
    assert "preset: acrobot (Acrobot-v1's preset)" in capsys.readouterr().out
    cfg = _resolve(["--env", "Catch-bsuite"])  # no preset of its own: the default's settings
    # cartpole's settings, without freezing (Catch has no registered solve threshold)
    assert cfg == presets.cartpole().replace(env_id="Catch-bsuite", freeze_when_solved=False)
    assert "preset: cartpole (the default; Catch-bsuite has no preset of its own)" in (
        capsys.readouterr().out
    )
    # An explicit --preset wins, and no --env keeps the cartpole default.
    assert _resolve(["--preset", "cartpole", "--env", "Acrobot-v1"]) == presets.cartpole().replace(
        env_id="Acrobot-v1"
    )
    assert _resolve([]) == presets.cartpole()
    assert _resolve(["--preset", "rainbow-lite"]) == presets.rainbow_lite()


def test_train_env_continuous_is_a_one_line_error(capsys):
    assert cli.main(["train", "--env", "Pendulum-v1", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "env_id: Pendulum-v1 has a continuous action space" in err


def _both_steps(env, env_params, num_envs=32, steps=60, seed=0):
    """The pre-reset outputs of `vmapped_step` (auto-reset) and of
    `vmapped_step_no_reset` from the same states, keys and actions, over a random
    trajectory (states advance by the auto-resetting step)."""
    from purejaxdqn.core import envs

    key = jax.random.key(seed)
    _, state = envs.vmapped_reset(env, env_params, jax.random.split(key, num_envs))
    num_actions = envs.num_discrete_actions(env, env_params)

    @jax.jit
    def step(key, state):
        action = jax.random.randint(jax.random.fold_in(key, 7), (num_envs,), 0, num_actions)
        _, next_state, reward, terminated, truncated, info = envs.vmapped_step(
            env, env_params, jax.random.split(key, num_envs), state, action
        )
        no_reset = envs.vmapped_step_no_reset(
            env, env_params, jax.random.split(key, num_envs), state, action
        )
        auto = (info["final_observation"], reward, terminated, truncated)
        return auto, (no_reset[0], *no_reset[2:]), next_state

    auto_all, no_reset_all = [], []
    for _ in range(steps):
        key, k = jax.random.split(key)
        auto, no_reset, state = step(k, state)
        auto_all.append(auto)
        no_reset_all.append(no_reset)
    return jax.tree.map(lambda *x: np.stack(x), *auto_all), jax.tree.map(
        lambda *x: np.stack(x), *no_reset_all
    )


def test_step_without_reset_draws_the_same_random_numbers_as_gymnax_step():
    # Asterix spawns enemies from the step's key: the same key must reach step_env.
    env, env_params = gymnax.make("Asterix-MinAtar")
    auto, no_reset = _both_steps(env, env_params)
    for a, b in zip(auto, no_reset, strict=True):
        np.testing.assert_array_equal(a, b)
    assert auto[2].any() or auto[1].any()  # episodes and rewards happened: not a trivial run


def test_step_without_reset_matches_gymnax_step_on_cartpole():
    env, env_params = gymnax.make("CartPole-v1")
    (obs_a, r_a, term_a, trunc_a), (obs_b, r_b, term_b, trunc_b) = _both_steps(env, env_params)
    # Fused differently by XLA: the physics may differ in the last bit.
    np.testing.assert_allclose(obs_a, obs_b, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(r_a, r_b)
    assert term_a.any()
    assert (term_a == term_b).mean() > 0.999 and np.array_equal(trunc_a, trunc_b)


def test_a_wrapped_env_is_evaluated_through_its_own_step():
    from gymnax.wrappers.purerl import FlattenObservationWrapper

    from purejaxdqn.core.evaluation import make_rollout_returns

    env, env_params = gymnax.make("Breakout-MinAtar")
    wrapped = FlattenObservationWrapper(env)

    def act(params, key, obs):  # needs the wrapper's flat (n, 400) observations
        assert obs.shape == (4, 400), obs.shape
        return (obs[:, 7] > 0).astype(jnp.int32)

    returns = jax.jit(make_rollout_returns(wrapped, env_params, act, 4))(jax.random.key(0), None)
    assert returns.shape == (4,)


def test_random_rollouts_differ_by_key_and_episode():
    from purejaxdqn.core.evaluation import make_random_returns

    env, env_params = gymnax.make("CartPole-v1")
    random_returns = jax.jit(make_random_returns(env, env_params, 2, 16))
    one = np.asarray(random_returns(jax.random.key(3)))
    np.testing.assert_array_equal(one, random_returns(jax.random.key(3)))
    assert not np.array_equal(one, random_returns(jax.random.key(4)))
    assert one.std() > 0 and one.min() >= 8  # different episodes; CartPole lasts >= 8 steps


def test_a_minatar_game_gets_minatar_breakout_with_its_measured_tuning(capsys):
    cfg = _resolve(["--env", "Seaquest-MinAtar"])
    tuned = presets.SWITCH_TUNING[("Seaquest-MinAtar", "dqn")]
    assert cfg == presets.minatar_breakout().replace(env_id="Seaquest-MinAtar", **tuned)
    assert cfg.n_step == 3 and cfg.learning_rate == 2.5e-4
    out = capsys.readouterr().out
    assert "n_step=3, learning_rate=0.00025 as measured for it" in out, out
    # a game without tuning: minatar-breakout's settings, only the env changed
    assert _resolve(["--env", "Asterix-MinAtar"]) == presets.minatar_breakout().replace(
        env_id="Asterix-MinAtar"
    )
