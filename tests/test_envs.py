"""Every discrete-action gymnax environment trains with no code change; continuous-action
ones are refused with a clear message."""

import gymnax
import jax
import numpy as np
import pytest
from conftest import tiny_config
from gymnax.environments import spaces

import purejaxdqn
from purejaxdqn import cli, presets
from purejaxdqn.config import CONTINUOUS_ACTION_ENVS

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
    cfg = tiny_config(env_id=env_id, hidden_sizes=(8,), eval_episodes=2, total_timesteps=600)
    result = jax.jit(purejaxdqn.make_train(cfg))(jax.random.key(0))
    assert np.all(np.isfinite(np.asarray(result.metrics.loss)))
    assert np.all(np.isfinite(np.asarray(result.final_eval_returns)))
    assert int(result.state.env_step) == 600
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
