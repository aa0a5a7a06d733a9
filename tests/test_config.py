import json

import numpy as np
import pytest

import purejaxdqn
from purejaxdqn import config as config_mod
from purejaxdqn.config import DQNConfig

ISSUE_FIELDS = (
    "env_id total_timesteps num_envs buffer_size batch_size learning_starts train_frequency "
    "gradient_steps target_update_frequency tau gamma learning_rate max_grad_norm epsilon_start "
    "epsilon_end epsilon_decay_steps hidden_sizes activation double_q loss eval_frequency "
    "eval_episodes"
).split()


def test_public_field_names_are_kept():
    assert set(ISSUE_FIELDS) <= set(config_mod.field_names())


def test_static_and_traced_fields_are_documented():
    traced = set(config_mod.traced_fields())
    assert {"learning_rate", "gamma", "epsilon_start", "epsilon_end", "tau"} <= traced
    assert {"num_envs", "buffer_size", "batch_size", "hidden_sizes", "total_timesteps"} <= set(
        config_mod.static_fields()
    )
    assert traced.isdisjoint(config_mod.static_fields())
    assert set(purejaxdqn.Hyperparams._fields) == traced


@pytest.mark.parametrize("preset", ["notebook", "cartpole"])
def test_json_round_trip(preset):
    cfg = purejaxdqn.presets.get(preset)
    text = cfg.to_json()
    assert DQNConfig.from_json(text) == cfg
    assert DQNConfig.from_dict(json.loads(text)) == cfg


def test_notebook_preset_is_the_notebooks_hyperparameters():
    c = purejaxdqn.presets.notebook()
    assert (c.hidden_sizes, c.activation, c.learning_rate, c.batch_size) == (
        (64,),
        "relu",
        1e-4,
        32,
    )
    assert (c.buffer_size, c.learning_starts, c.gamma, c.loss) == (50_000, 1_000, 0.99, "mse")
    assert (c.epsilon_start, c.epsilon_end, c.epsilon_decay_steps) == (1.0, 0.01, 100_000)
    assert (c.target_update_frequency, c.tau, c.train_frequency, c.gradient_steps) == (
        1_000,
        1.0,
        1,
        1,
    )
    assert (c.num_envs, c.double_q, c.max_grad_norm) == (1, False, None)


@pytest.mark.parametrize(
    "changes, field, allowed",
    [
        (dict(env_id="NoSuchEnv-v0"), "env_id", "CartPole-v1"),
        (dict(batch_size=1024, buffer_size=512), "batch_size", "<= buffer_size"),
        (dict(num_envs=0), "num_envs", "positive integer"),
        (dict(buffer_size=-5), "buffer_size", "positive integer"),
        (dict(gamma=1.5), "gamma", r"\[0.0, 1.0\]"),
        (dict(gamma=-0.1), "gamma", r"\[0.0, 1.0\]"),
        (dict(epsilon_end=2.0), "epsilon_end", r"\[0.0, 1.0\]"),
        (dict(tau=0.0), "tau", r"\(0, 1\]"),
        (dict(learning_rate=0.0), "learning_rate", "> 0"),
        (dict(max_grad_norm=-1.0), "max_grad_norm", "> 0 or None"),
        (dict(hidden_sizes=()), "hidden_sizes", "positive widths"),
        (dict(activation="sigmoidish"), "activation", "relu"),
        (dict(loss="l1"), "loss", "mse"),
        (dict(num_envs=3), "learning_starts", "multiple of num_envs"),
        (dict(train_frequency=6), "train_frequency", "multiple of num_envs"),
        (
            dict(target_update_frequency=502),
            "target_update_frequency",
            "multiple of train_frequency",
        ),
        (dict(eval_frequency=5002), "eval_frequency", "multiple of train_frequency"),
        (dict(total_timesteps=3_000), "total_timesteps", ">= learning_starts \\+ eval_frequency"),
        (dict(learning_starts=32, batch_size=64), "learning_starts", ">= batch_size"),
        (dict(double_q="yes"), "double_q", "true or false"),
        (
            dict(env_id="Catch-bsuite", solve_threshold=None, freeze_when_solved=True),
            "solve_threshold",
            "no registered threshold",
        ),
    ],
)
def test_validation_names_field_and_range(changes, field, allowed):
    with pytest.raises(ValueError, match=rf"^{field}: .*{allowed}"):
        purejaxdqn.presets.cartpole().replace(**changes)


def test_replace_and_from_dict_reject_unknown_fields():
    with pytest.raises(ValueError, match="^learnin_rate: not a DQNConfig field"):
        DQNConfig().replace(learnin_rate=1e-3)
    with pytest.raises(ValueError, match="^bogus: not a DQNConfig field"):
        DQNConfig.from_dict({"bogus": 1})


def test_config_is_frozen():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        DQNConfig().gamma = 0.5  # type: ignore[misc]


def test_derived_counts():
    c = DQNConfig(total_timesteps=26_500, learning_starts=1_000, eval_frequency=5_000)
    assert c.num_periods == 5  # 25_500 // 5_000: the remainder is dropped
    assert c.warmup_iterations == 1_000 // c.num_envs
    assert c.iterations_per_period == 5_000 // c.train_frequency


def test_hyperparams_are_derived_from_the_traced_fields():
    assert purejaxdqn.Hyperparams._fields == tuple(config_mod.traced_fields())
    hp = DQNConfig(max_grad_norm=None, epsilon_decay_steps=123).hyperparams()
    assert all(x.dtype == np.float32 and x.shape == () for x in hp)
    assert float(hp.max_grad_norm) == np.inf and float(hp.epsilon_decay_steps) == 123.0
    assert purejaxdqn.Hyperparams()._asdict()["gamma"] == DQNConfig().gamma  # defaults


def test_every_field_declares_its_kind_doc_and_check_once():
    import dataclasses

    for f in dataclasses.fields(DQNConfig):
        assert set(f.metadata) == {"traced", "doc", "check", "applies"}, f.name
        assert set(f.metadata["applies"]) <= set(config_mod.ALGORITHMS), f.name
        assert f.metadata["doc"] and callable(f.metadata["check"]), f.name


@pytest.mark.parametrize(
    "name, raw, value",
    [
        ("learning_rate", "3e-4", 3e-4),
        ("batch_size", " 32", 32),
        ("double_q", "False", False),
        ("max_grad_norm", "none", None),
        ("max_grad_norm", "5", 5.0),
        ("hidden_sizes", "64,32", (64, 32)),
        ("hidden_sizes", "[16]", (16,)),
        ("loss", "huber", "huber"),
    ],
)
def test_set_values_are_parsed_as_the_field_declares(name, raw, value):
    parsed = config_mod.parse_value(name, raw)
    assert parsed == value and type(parsed) is type(value)
    assert config_mod.from_number("epsilon_decay_steps", 1e3 + 0.4) == 1000


@pytest.mark.parametrize(
    "algorithm, changes, field",
    [
        ("pqn", dict(buffer_size=1000), "buffer_size"),
        ("pqn", dict(prioritized_replay=True), "prioritized_replay"),
        ("pqn", dict(n_step=3), "n_step"),
        ("pqn", dict(target_update_frequency=100), "target_update_frequency"),
        ("pqn", dict(noisy=True), "noisy"),
        ("dqn", dict(num_steps=8), "num_steps"),
        ("dqn", dict(q_lambda=0.5), "q_lambda"),
        ("dqn", dict(reward_scale=0.1), "reward_scale"),
        ("dqn", dict(num_atoms=21), "num_atoms"),
        ("c51", dict(loss="huber"), "loss"),
        ("m-dqn", dict(double_q=False), "double_q"),
        ("qr-dqn", dict(munchausen_alpha=0.5), "munchausen_alpha"),
    ],
)
def test_a_field_of_another_algorithm_is_refused_away_from_its_default(algorithm, changes, field):
    base = dict(num_envs=4, eval_frequency=5_120) if algorithm == "pqn" else {}
    message = rf"^{field}: does not apply to algorithm {algorithm} .*leave it at its default"
    with pytest.raises(ValueError, match=message) as error:
        DQNConfig(algorithm=algorithm, **base, **changes)
    assert "\n" not in str(error.value)


def test_algorithm_relations_name_the_field():
    with pytest.raises(ValueError, match=r"^v_max: must be > v_min \(0.0\)"):
        DQNConfig(algorithm="c51", v_min=0.0, v_max=0.0)
    with pytest.raises(ValueError, match=r"^num_minibatches: must be a divisor of num_steps"):
        DQNConfig(algorithm="pqn", num_envs=4, num_steps=8, num_minibatches=5, eval_frequency=320)
    with pytest.raises(ValueError, match=r"^eval_frequency: must be a multiple of num_steps \* "):
        DQNConfig(algorithm="pqn", num_envs=4, num_steps=8, eval_frequency=100)
    # PQN has no warm-up and no replay: its iterations are rollouts of num_steps x num_envs
    c = DQNConfig(algorithm="pqn", num_envs=4, num_steps=8, eval_frequency=320, total_timesteps=640)
    assert (c.warmup_steps, c.env_steps_per_iteration, c.iterations_per_period) == (0, 32, 10)
    assert c.num_gradient_steps == 2 * 10 * c.num_epochs * c.num_minibatches


def test_the_new_traced_fields_are_sweepable():
    traced = set(config_mod.traced_fields())
    assert {"q_lambda", "munchausen_alpha", "munchausen_temperature", "noisy_sigma0"} <= traced
    assert {"algorithm", "num_atoms", "num_quantiles", "num_steps", "noisy"} <= set(
        config_mod.static_fields()
    )


@pytest.mark.parametrize("name", ["c51", "qr-dqn", "m-dqn", "rainbow", "pqn", "pqn-minatar"])
def test_the_algorithm_presets(name):
    config = purejaxdqn.presets.get(name)
    expected = {"rainbow": "c51", "pqn-minatar": "pqn"}.get(name, name)
    assert config.algorithm == expected
    assert DQNConfig.from_json(config.to_json()) == config
    if name == "rainbow":
        assert config.noisy and config.dueling and config.double_q and config.prioritized_replay
        assert config.n_step == 3 and config.epsilon_end == 0.0


def test_switching_an_env_preset_to_another_algorithm_keeps_its_task():
    from purejaxdqn import presets

    acrobot = presets.acrobot()
    switched, kept = presets.switch_algorithm(acrobot, "pqn")
    assert switched.algorithm == "pqn" and switched.env_id == "Acrobot-v1"
    assert switched.gamma == acrobot.gamma and switched.num_steps == presets.pqn().num_steps
    assert "env_id" in kept and "n_step" not in kept
    assert "eval_frequency" not in kept  # 10000 is not a multiple of pqn's 512-step rollouts
    minatar, _ = presets.switch_algorithm(presets.minatar_breakout(), "pqn")
    assert minatar.num_envs == presets.pqn_minatar().num_envs
    back, _ = presets.switch_algorithm(presets.pqn(), "dqn")
    assert back.algorithm == "dqn" and back.buffer_size == presets.cartpole().buffer_size


def test_switching_takes_what_was_tuned_for_the_algorithm_on_the_env():
    from purejaxdqn import presets

    for (env_id, algorithm), tuned in presets.SWITCH_TUNING.items():
        switched, kept = presets.switch_algorithm(presets.for_env(env_id)[1], algorithm)
        assert {f: getattr(switched, f) for f in tuned} == tuned
        assert set(tuned) <= set(kept)
        assert switched.total_timesteps % switched.env_steps_per_iteration == 0
    c51, _ = presets.switch_algorithm(presets.acrobot(), "c51")
    assert (c51.v_min, c51.v_max) == presets.VALUE_RANGES["Acrobot-v1"]
    mountaincar, _ = presets.switch_algorithm(presets.mountaincar(), "c51")
    assert mountaincar.learning_rate == presets.c51().learning_rate  # nothing tuned there
