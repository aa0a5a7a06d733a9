"""Named `DQNConfig` instances."""

from __future__ import annotations

from purejaxdqn.config import SOLVE_THRESHOLDS, DQNConfig, field_names


def notebook() -> DQNConfig:
    """The teaching notebook's hyperparameters, exactly (one env, one update per step).

    One hidden layer of 64 ReLU, Adam 1e-4, batch 32, buffer 50000, 1000 random warm-up
    steps, epsilon 1.0 -> 0.01 over 100000 steps, hard target copy every 1000 steps,
    gamma 0.99, MSE, DQN (max over the target network), no gradient clipping (Keras' default).
    """
    return DQNConfig(
        env_id="CartPole-v1",
        total_timesteps=200_000,
        num_envs=1,
        buffer_size=50_000,
        batch_size=32,
        learning_starts=1_000,
        train_frequency=1,
        gradient_steps=1,
        target_update_frequency=1_000,
        tau=1.0,
        gamma=0.99,
        learning_rate=1e-4,
        max_grad_norm=None,
        epsilon_start=1.0,
        epsilon_end=0.01,
        epsilon_decay_steps=100_000,
        hidden_sizes=(64,),
        activation="relu",
        double_q=False,
        loss="mse",
        eval_frequency=10_000,
        eval_episodes=100,
        freeze_when_solved=False,
    )


def cartpole() -> DQNConfig:
    """Our tuned CartPole-v1 default, chosen by measurement (benchmarks/RESULTS.md).

    The DQNConfig defaults (4 envs, Double DQN, 64 x 64 ReLU, batch 64, one update per
    4 env steps, hard target copy every 500 steps, epsilon 1 -> 0.05 over 20k steps) with
    Adam 3e-3, and solved seeds frozen so that the run ends once all have solved.
    """
    return DQNConfig(env_id="CartPole-v1", learning_rate=3e-3, freeze_when_solved=True)


def acrobot() -> DQNConfig:
    """Acrobot-v1, chosen by measurement (benchmarks/RESULTS.md).

    The DQNConfig defaults (4 envs, Double DQN, 64 x 64 ReLU, batch 64, one update per 4
    env steps, hard target copy every 500 steps) with a dueling head, 3-step returns and
    Adam decaying linearly from 1e-3 to 5e-5 over 100k env steps. Not frozen when solved
    (-100): it keeps improving past the threshold.
    """
    return DQNConfig(
        env_id="Acrobot-v1",
        total_timesteps=100_000,
        learning_rate=1e-3,
        learning_rate_schedule="linear",
        learning_rate_end=5e-5,
        n_step=3,
        dueling=True,
        eval_frequency=10_000,
    )


def mountaincar() -> DQNConfig:
    """MountainCar-v0, chosen by measurement (benchmarks/RESULTS.md).

    Exploration is the difficulty: a random policy never reaches the flag in 200 steps.
    The velocity observation spans +-0.07 against the position's 1.8; rescaling both to
    [-1, 1] (`normalize_observations`) is what made seeds learn reliably (the median of
    8 seeds beats the reference on 6 of 6 keys, against 1 of 3 without it). With gamma
    0.995, Adam 1e-3, epsilon 1 -> 0.05 over 50k steps, 3-step returns and a dueling
    head, 300k env steps.
    """
    return DQNConfig(
        env_id="MountainCar-v0",
        total_timesteps=300_000,
        gamma=0.995,
        learning_rate=1e-3,
        n_step=3,
        dueling=True,
        normalize_observations=True,
        epsilon_decay_steps=50_000,
        eval_frequency=20_000,
    )


def rainbow_lite() -> DQNConfig:
    """CartPole-v1 with Double DQN + dueling head + 3-step returns + prioritized replay."""
    return cartpole().replace(learning_rate=1e-3, dueling=True, n_step=3, prioritized_replay=True)


def minatar_breakout() -> DQNConfig:
    """Breakout-MinAtar, sized to learn on a 2-core CPU in minutes: the conv torso (auto
    for its 10 x 10 x 4 images) with one 128-unit layer, 8 envs, one Huber Double-DQN
    update per 8 env steps, epsilon 1 -> 0.05 over 50k steps, 100k env steps."""
    return DQNConfig(
        env_id="Breakout-MinAtar",
        total_timesteps=100_000,
        num_envs=8,
        buffer_size=100_000,
        batch_size=64,
        learning_starts=5_000,
        train_frequency=8,
        target_update_frequency=1_000,
        learning_rate=1e-3,
        hidden_sizes=(128,),
        epsilon_decay_steps=50_000,
        eval_frequency=50_000,
        eval_episodes=32,
        double_q=True,
        loss="huber",
    )


def c51() -> DQNConfig:
    """CartPole-v1 with C51 (Bellemare et al. 2017): 51 atoms on [0, 100], the range of
    CartPole's discounted returns at gamma 0.99 (a +-10 support cannot hold them); the
    `cartpole` preset's other settings."""
    low, high = VALUE_RANGES["CartPole-v1"]
    return cartpole().replace(algorithm="c51", v_min=low, v_max=high, learning_rate=1e-3)


def qr_dqn() -> DQNConfig:
    """CartPole-v1 with QR-DQN (Dabney et al. 2018): 51 quantiles; the `cartpole`
    preset's other settings (its Adam 3e-3 included: 1e-3 solved 5 of 8)."""
    return cartpole().replace(algorithm="qr-dqn")


def m_dqn() -> DQNConfig:
    """CartPole-v1 with Munchausen DQN (Vieillard et al. 2020): alpha 0.9, temperature
    0.03, clip -1, the paper's; the `cartpole` preset's other settings."""
    return cartpole().replace(algorithm="m-dqn", learning_rate=1e-3)


def rainbow() -> DQNConfig:
    """CartPole-v1 with Rainbow's parts: C51 on [0, 100], Double DQN, a dueling noisy
    head, 3-step returns and prioritized replay; exploration from the noise alone. Not
    frozen when solved: frozen seeds ended just under 475 on fresh episodes (6 or 7 of
    8), trained to the end they hold it (7 or 8 of 8; benchmarks/RESULTS.md)."""
    return c51().replace(
        dueling=True,
        noisy=True,
        n_step=3,
        prioritized_replay=True,
        epsilon_start=0.0,
        epsilon_end=0.0,
        freeze_when_solved=False,
    )


def pqn() -> DQNConfig:
    """CartPole-v1 with PQN (Gallici et al. 2024): 16 envs x 32 steps per rollout, 2
    epochs of 4 minibatches, a 128 x 128 LayerNorm MLP, Adam 5e-4 decaying linearly to 0,
    Q(0.65) returns of rewards scaled by 0.1, epsilon 1 -> 0.05 over 50k steps."""
    return DQNConfig(
        env_id="CartPole-v1",
        algorithm="pqn",
        total_timesteps=204_800,
        num_envs=16,
        num_steps=32,
        num_epochs=2,
        num_minibatches=4,
        hidden_sizes=(128, 128),
        layer_norm=True,
        learning_rate=5e-4,
        learning_rate_schedule="linear",
        learning_rate_end=0.0,
        q_lambda=0.65,
        reward_scale=0.1,
        epsilon_decay_steps=50_000,
        eval_frequency=10_240,
        freeze_when_solved=True,
    )


def pqn_minatar() -> DQNConfig:
    """Breakout-MinAtar (any MinAtar game with --env) with PQN: purejaxql's MinAtar
    settings (128 envs x 32 steps, 2 epochs of 32 minibatches, Adam 5e-4 decaying to 0,
    Q(0.65), epsilon 1 -> 0.05 over a tenth of the run) on the conv torso with
    LayerNorm, 1M env steps."""
    return DQNConfig(
        env_id="Breakout-MinAtar",
        algorithm="pqn",
        total_timesteps=999_424,
        num_envs=128,
        num_steps=32,
        num_epochs=2,
        num_minibatches=32,
        hidden_sizes=(128,),
        layer_norm=True,
        learning_rate=5e-4,
        learning_rate_schedule="linear",
        learning_rate_end=0.0,
        q_lambda=0.65,
        epsilon_decay_steps=100_000,
        eval_frequency=49_152,
        eval_episodes=32,
    )


PRESETS = {
    "notebook": notebook,
    "cartpole": cartpole,
    "acrobot": acrobot,
    "mountaincar": mountaincar,
    "rainbow-lite": rainbow_lite,
    "minatar-breakout": minatar_breakout,
    "c51": c51,
    "qr-dqn": qr_dqn,
    "m-dqn": m_dqn,
    "rainbow": rainbow,
    "pqn": pqn,
    "pqn-minatar": pqn_minatar,
}

# The preset each algorithm's fields come from when `--set algorithm=...` switches an env's
# preset to it (MinAtar games: the MinAtar presets where there is one).
ALGORITHM_PRESETS = {
    "dqn": "cartpole",
    "c51": "c51",
    "qr-dqn": "qr-dqn",
    "m-dqn": "m-dqn",
    "pqn": "pqn",
}
MINATAR_ALGORITHM_PRESETS = {"dqn": "minatar-breakout", "pqn": "pqn-minatar"}
# What an env's preset keeps when the algorithm is switched: the task and its evaluation.
KEPT_WHEN_SWITCHING = (
    "env_id",
    "total_timesteps",
    "gamma",
    "eval_frequency",
    "eval_episodes",
    "solve_threshold",
    "freeze_when_solved",
    "normalize_observations",
    "torso",
    "key_impl",
)

# C51's support for an env: the range of its discounted returns at gamma 0.99 (a reward of
# +1 or -1 a step for at most ~100 effective steps). Set when an env's preset switches to c51.
VALUE_RANGES = {
    "CartPole-v1": (0.0, 100.0),
    "Acrobot-v1": (-100.0, 0.0),
    "MountainCar-v0": (-100.0, 0.0),
}

# What an algorithm needs on an env beyond the preset the env starts from, measured
# (benchmarks/RESULTS.md, "Acrobot-v1" and "DQN on Seaquest-MinAtar"): `--env ID --set
# algorithm=A` sets these too, and `--env ID` those of DQN on a MinAtar game.
SWITCH_TUNING: dict[tuple[str, str], dict] = {
    ("Acrobot-v1", "c51"): {"learning_rate": 5e-4, "total_timesteps": 150_000},
    ("Acrobot-v1", "pqn"): {"total_timesteps": 409_600, "q_lambda": 0.95},
    ("Seaquest-MinAtar", "dqn"): {"n_step": 3, "learning_rate": 2.5e-4},
}

# The preset `purejaxdqn train --env ID` starts from when no --preset is given.
ENV_PRESETS = {
    "CartPole-v1": "cartpole",
    "Acrobot-v1": "acrobot",
    "MountainCar-v0": "mountaincar",
    "Breakout-MinAtar": "minatar-breakout",
}
DEFAULT = "cartpole"


def get(name: str) -> DQNConfig:
    if name not in PRESETS:
        raise ValueError(f"preset: unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()


def switch_algorithm(config: DQNConfig, algorithm: str) -> tuple[DQNConfig, list[str]]:
    """`config` (an env's preset) with `algorithm`: the algorithm's own preset, keeping
    `config`'s task and evaluation (`KEPT_WHEN_SWITCHING`) where they fit the algorithm,
    for c51 the env's support (`VALUE_RANGES`), and what was tuned for the algorithm on
    the env (`SWITCH_TUNING`). Returns the config and the fields it took from the env's
    preset or the env."""
    if algorithm == config.algorithm:
        return config, [f for f in field_names() if f != "algorithm"]
    if algorithm not in ALGORITHM_PRESETS:
        raise ValueError(f"algorithm: must be one of {tuple(ALGORITHM_PRESETS)}, got {algorithm!r}")
    minatar = config.env_id.endswith("-MinAtar")
    name = (MINATAR_ALGORITHM_PRESETS if minatar else {}).get(
        algorithm, ALGORITHM_PRESETS[algorithm]
    )
    base = get(name)
    kept = {f: getattr(config, f) for f in KEPT_WHEN_SWITCHING}
    if kept["eval_frequency"] % base.env_steps_per_iteration:  # the algorithm's iterations
        del kept["eval_frequency"]
    if kept["total_timesteps"] < kept.get("eval_frequency", base.eval_frequency):
        del kept["total_timesteps"]
    if algorithm == "c51" and config.env_id in VALUE_RANGES:
        kept["v_min"], kept["v_max"] = VALUE_RANGES[config.env_id]
    kept.update(SWITCH_TUNING.get((config.env_id, algorithm), {}))
    return base.replace(**kept), sorted(kept)


def env_tuning(env_id: str) -> dict:
    """The `SWITCH_TUNING` that `for_env` adds to the preset it gives: DQN's, for a
    MinAtar game without a preset of its own."""
    if env_id in ENV_PRESETS or not env_id.endswith("-MinAtar"):
        return {}
    return SWITCH_TUNING.get((env_id, "dqn"), {})


def for_env(env_id: str) -> tuple[str, DQNConfig]:
    """The env's own preset; for another MinAtar game, minatar-breakout pointed at it
    with `env_tuning`; otherwise the default preset (cartpole) pointed at the env (without
    freezing solved seeds where the env has no registered solve threshold)."""
    name = ENV_PRESETS.get(env_id)
    if name is not None:
        return name, get(name)
    if env_id.endswith("-MinAtar"):
        config = get("minatar-breakout").replace(env_id=env_id, **env_tuning(env_id))
        return MINATAR_ALGORITHM_PRESETS["dqn"], config
    config = get(DEFAULT)
    return DEFAULT, config.replace(
        env_id=env_id, freeze_when_solved=config.freeze_when_solved and env_id in SOLVE_THRESHOLDS
    )
