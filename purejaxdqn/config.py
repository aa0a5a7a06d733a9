"""`DQNConfig`: every hyperparameter of a run, typed, frozen and validated.

Each field is either *static* or *traced*:

* static fields fix a shape, a loop count or the structure of the program
  (sizes, frequencies, the network, the loss). Changing one recompiles.
* traced fields are plain numbers inside the compiled program
  (`Hyperparams`: learning rate, gamma, epsilon ends and decay, tau, gradient
  clipping). `make_train(config)` returns `train(key, hyperparams=None)`; pass a
  different `Hyperparams` (or vmap over a batch of them) and nothing recompiles.

Timestep counts (`total_timesteps`, `learning_starts`, `train_frequency`,
`target_update_frequency`, `eval_frequency`, `epsilon_decay_steps`) are
environment steps summed over the `num_envs` vectorized environments.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, NamedTuple

import jax.numpy as jnp

ACTIVATIONS = ("relu", "swish", "tanh", "elu", "gelu")
LOSSES = ("mse", "huber")
LEARNING_RATE_SCHEDULES = ("constant", "linear")
TORSOS = ("auto", "mlp", "conv")

# Return at which an environment counts as solved (gym's registered reward_threshold).
SOLVE_THRESHOLDS = {
    "CartPole-v1": 475.0,
    "Acrobot-v1": -100.0,
    "MountainCar-v0": -110.0,
}


class Hyperparams(NamedTuple):
    """The traced hyperparameters: scalars here, or arrays with a leading axis to vmap."""

    learning_rate: Any  # shape=(), float32
    gamma: Any  # shape=(), float32
    epsilon_start: Any  # shape=(), float32
    epsilon_end: Any  # shape=(), float32
    epsilon_decay_steps: Any  # shape=(), float32
    tau: Any  # shape=(), float32
    max_grad_norm: Any  # shape=(), float32; inf means no clipping
    # Defaults keep `Hyperparams(...)` calls written before these fields existed working.
    learning_rate_end: Any = 0.0  # shape=(), float32: used by the "linear" schedule
    priority_alpha: Any = 0.6  # shape=(), float32: used with prioritized_replay
    priority_beta_start: Any = 0.4  # shape=(), float32: used with prioritized_replay


def _static(default: Any, doc: str) -> Any:
    return dataclasses.field(default=default, metadata={"traced": False, "doc": doc})


def _traced(default: Any, doc: str) -> Any:
    return dataclasses.field(default=default, metadata={"traced": True, "doc": doc})


@dataclasses.dataclass(frozen=True)
class DQNConfig:
    """A complete, validated DQN configuration. Build variants with `.replace(**changes)`."""

    env_id: str = _static("CartPole-v1", "gymnax environment id")
    total_timesteps: int = _static(
        100_000,
        "env steps in the run, warm-up included; rounded down to whole eval periods",
    )
    num_envs: int = _static(4, "environments stepped in parallel per seed")
    buffer_size: int = _static(50_000, "replay buffer capacity in transitions")
    batch_size: int = _static(64, "transitions per gradient step")
    learning_starts: int = _static(
        1_000,
        "env steps of uniformly random warm-up before learning (multiple of num_envs); "
        "learning starts with the first round of gradient steps after them",
    )
    train_frequency: int = _static(
        4, "env steps between rounds of gradient steps (multiple of num_envs)"
    )
    gradient_steps: int = _static(1, "gradient steps per round")
    target_update_frequency: int = _static(
        500, "env steps between target updates (multiple of train_frequency)"
    )
    tau: float = _traced(1.0, "target update rate: 1.0 is a hard copy, below 1 Polyak averaging")
    gamma: float = _traced(0.99, "discount factor in [0, 1]")
    learning_rate: float = _traced(1e-3, "Adam learning rate")
    max_grad_norm: float | None = _traced(
        10.0, "clip gradients to this global norm; None for no clipping"
    )
    epsilon_start: float = _traced(1.0, "exploration rate when learning starts")
    epsilon_end: float = _traced(0.05, "exploration rate after the decay")
    epsilon_decay_steps: int = _traced(
        20_000, "env steps after learning_starts over which epsilon decays linearly"
    )
    hidden_sizes: tuple[int, ...] = _static((64, 64), "widths of the MLP's hidden layers")
    activation: str = _static("relu", f"hidden activation, one of {ACTIVATIONS}")
    double_q: bool = _static(True, "Double DQN targets (van Hasselt et al. 2016) instead of DQN")
    loss: str = _static("mse", f"TD loss, one of {LOSSES}")
    eval_frequency: int = _static(
        5_000,
        "env steps between greedy evaluations, counted from the run's first step "
        "(multiple of train_frequency)",
    )
    eval_episodes: int = _static(
        100, "fresh episodes per greedy evaluation (also the final evaluation)"
    )
    solve_threshold: float | None = _static(
        None, "greedy eval return that counts as solved; None: the env's registered threshold"
    )
    freeze_when_solved: bool = _static(
        False,
        "stop a seed's learning (freeze its parameters) once a greedy eval reaches "
        "solve_threshold, as the notebook stops when solved",
    )
    dueling: bool = _static(
        False, "dueling head: Q = V + A - mean(A) from a shared torso (Wang et al. 2016)"
    )
    n_step: int = _static(
        1,
        "rewards summed per stored transition (n-step returns; cut at episode ends, "
        "bootstrapping from the final observation at a time limit)",
    )
    prioritized_replay: bool = _static(
        False,
        "proportional prioritized replay with a sum tree and importance-sampling weights "
        "(Schaul et al. 2016)",
    )
    priority_alpha: float = _traced(
        0.6, "prioritized replay: sampling probability proportional to priority ** alpha"
    )
    priority_beta_start: float = _traced(
        0.4,
        "prioritized replay: importance-sampling exponent at learning_starts, annealed "
        "linearly to 1 at total_timesteps",
    )
    priority_epsilon: float = _static(
        1e-6, "prioritized replay: priority = |TD error| + priority_epsilon"
    )
    learning_rate_schedule: str = _static(
        "constant",
        f"one of {LEARNING_RATE_SCHEDULES}: linear decays learning_rate to learning_rate_end "
        f"over the run's gradient steps",
    )
    learning_rate_end: float = _traced(
        0.0, "final learning rate of the linear schedule (unused when constant)"
    )
    normalize_observations: bool = _static(
        False,
        "rescale each observation dimension that the env's observation space bounds to "
        "[-1, 1], inside the Q-network (unbounded ones: infinite or float32's largest value)",
    )
    torso: str = _static(
        "auto",
        f"one of {TORSOS}: auto is conv for image-like (H, W, C) observations (MinAtar), "
        f"else an MLP; conv is one 16-channel 3x3 convolution before hidden_sizes",
    )
    key_impl: str = _static(
        "philox4x32",
        "jax.random key implementation of the run's random numbers: philox4x32 or "
        "threefry2x32 (JAX's default)",
    )

    def __post_init__(self) -> None:
        # Normalise JSON-friendly types (lists from JSON, ints for floats).
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in self.hidden_sizes))
        self.validate()

    # ----------------------------------------------------------------- derived
    @property
    def warmup_iterations(self) -> int:
        """Training iterations that act at random and do not learn: those that start
        before `learning_starts` env steps (the warm-up rounded up to whole iterations)."""
        return -(-self.learning_starts // self.train_frequency)

    @property
    def steps_per_iteration(self) -> int:
        """Vectorized env steps per training iteration (then `gradient_steps` updates)."""
        return self.train_frequency // self.num_envs

    @property
    def iterations_per_period(self) -> int:
        return self.eval_frequency // self.train_frequency

    @property
    def num_periods(self) -> int:
        """Eval periods in the run (the warm-up is part of the first ones)."""
        return self.total_timesteps // self.eval_frequency

    @property
    def num_gradient_steps(self) -> int:
        """Gradient steps in the whole run (the length of the linear learning-rate decay)."""
        iterations = self.num_periods * self.iterations_per_period - self.warmup_iterations
        return iterations * self.gradient_steps

    @property
    def target_update_iterations(self) -> int:
        return self.target_update_frequency // self.train_frequency

    @property
    def resolved_solve_threshold(self) -> float | None:
        if self.solve_threshold is not None:
            return float(self.solve_threshold)
        return SOLVE_THRESHOLDS.get(self.env_id)

    def hyperparams(self) -> Hyperparams:
        """The traced fields as float32 scalars (pass these to `train` to avoid recompiling)."""
        clip = math.inf if self.max_grad_norm is None else self.max_grad_norm
        return Hyperparams(
            learning_rate=jnp.float32(self.learning_rate),
            gamma=jnp.float32(self.gamma),
            epsilon_start=jnp.float32(self.epsilon_start),
            epsilon_end=jnp.float32(self.epsilon_end),
            epsilon_decay_steps=jnp.float32(self.epsilon_decay_steps),
            tau=jnp.float32(self.tau),
            max_grad_norm=jnp.float32(clip),
            learning_rate_end=jnp.float32(self.learning_rate_end),
            priority_alpha=jnp.float32(self.priority_alpha),
            priority_beta_start=jnp.float32(self.priority_beta_start),
        )

    # ------------------------------------------------------------- validation
    def validate(self) -> None:
        """Raise `ValueError` naming the first bad field and its allowed range."""
        from purejaxdqn.core import envs, prng  # local: keeps `import purejaxdqn.config` light

        envs.check_env_id(self.env_id)
        positive = (
            "total_timesteps num_envs buffer_size batch_size train_frequency gradient_steps "
            "target_update_frequency eval_frequency eval_episodes"
        ).split()
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: must be a positive integer, got {value!r}")
        if isinstance(self.n_step, bool) or not isinstance(self.n_step, int) or self.n_step < 1:
            raise ValueError(
                f"n_step: must be a positive integer (1 is one-step), got {self.n_step!r}"
            )
        for name in ("learning_starts", "epsilon_decay_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: must be an integer >= 0, got {value!r}")
        if not self.hidden_sizes or any(h < 1 for h in self.hidden_sizes):
            raise ValueError(
                f"hidden_sizes: must be one or more positive widths, got {self.hidden_sizes!r}"
            )
        for name, low, high in (
            ("gamma", 0.0, 1.0),
            ("epsilon_start", 0.0, 1.0),
            ("epsilon_end", 0.0, 1.0),
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"{name}: must be in [{low}, {high}], got {value!r}")
        if not isinstance(self.tau, (int, float)) or not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau: must be in (0, 1], got {self.tau!r}")
        if not isinstance(self.learning_rate, (int, float)) or not self.learning_rate > 0:
            raise ValueError(f"learning_rate: must be > 0, got {self.learning_rate!r}")
        if self.max_grad_norm is not None and not (
            isinstance(self.max_grad_norm, (int, float)) and self.max_grad_norm > 0
        ):
            raise ValueError(
                f"max_grad_norm: must be > 0 or None (no clipping), got {self.max_grad_norm!r}"
            )
        if not isinstance(self.learning_rate_end, (int, float)) or not (
            0.0 <= self.learning_rate_end <= self.learning_rate
        ):
            raise ValueError(
                f"learning_rate_end: must be in [0, learning_rate ({self.learning_rate})], "
                f"got {self.learning_rate_end!r}"
            )
        if self.learning_rate_schedule not in LEARNING_RATE_SCHEDULES:
            raise ValueError(
                f"learning_rate_schedule: must be one of {LEARNING_RATE_SCHEDULES}, "
                f"got {self.learning_rate_schedule!r}"
            )
        for name, low, high in (("priority_alpha", 0.0, 1.0), ("priority_beta_start", 0.0, 1.0)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"{name}: must be in [{low}, {high}], got {value!r}")
        if not isinstance(self.priority_epsilon, (int, float)) or not self.priority_epsilon > 0:
            raise ValueError(
                f"priority_epsilon: must be > 0 (every transition keeps a chance to be "
                f"sampled), got {self.priority_epsilon!r}"
            )
        prng.check_impl(self.key_impl)
        if self.torso not in TORSOS:
            raise ValueError(f"torso: must be one of {TORSOS}, got {self.torso!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation: must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss: must be one of {LOSSES}, got {self.loss!r}")
        for name in (
            "double_q",
            "freeze_when_solved",
            "dueling",
            "prioritized_replay",
            "normalize_observations",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: must be true or false, got {getattr(self, name)!r}")
        if self.batch_size > self.buffer_size:
            raise ValueError(
                f"batch_size: must be <= buffer_size ({self.buffer_size}), got {self.batch_size}"
            )
        if self.num_envs > self.buffer_size:
            raise ValueError(
                f"num_envs: must be <= buffer_size ({self.buffer_size}), got {self.num_envs}"
            )
        _multiple("learning_starts", self.learning_starts, "num_envs", self.num_envs)
        _multiple("train_frequency", self.train_frequency, "num_envs", self.num_envs)
        _multiple(
            "target_update_frequency",
            self.target_update_frequency,
            "train_frequency",
            self.train_frequency,
        )
        _multiple("eval_frequency", self.eval_frequency, "train_frequency", self.train_frequency)
        if self.learning_starts < self.batch_size:
            raise ValueError(
                f"learning_starts: must be >= batch_size ({self.batch_size}) so the first "
                f"batch samples stored transitions, got {self.learning_starts}"
            )
        # n-step transitions reach the buffer n - 1 env steps late.
        pending = (self.n_step - 1) * self.num_envs
        if self.learning_starts < self.batch_size + pending:
            raise ValueError(
                f"learning_starts: must be >= batch_size + (n_step - 1) * num_envs "
                f"({self.batch_size + pending}) so the first batch samples stored n-step "
                f"transitions, got {self.learning_starts}"
            )
        if self.total_timesteps < self.learning_starts + self.eval_frequency:
            raise ValueError(
                f"total_timesteps: must be >= learning_starts + eval_frequency "
                f"({self.learning_starts + self.eval_frequency}), got {self.total_timesteps}"
            )
        if self.solve_threshold is not None and not isinstance(self.solve_threshold, (int, float)):
            raise ValueError(
                f"solve_threshold: must be a number or None, got {self.solve_threshold!r}"
            )
        if self.freeze_when_solved and self.resolved_solve_threshold is None:
            raise ValueError(
                f"solve_threshold: {self.env_id} has no registered threshold; set one to use "
                f"freeze_when_solved"
            )

    # ---------------------------------------------------------- serialisation
    def replace(self, **changes: Any) -> DQNConfig:
        unknown = sorted(set(changes) - set(field_names()))
        if unknown:
            raise ValueError(
                f"{unknown[0]}: not a DQNConfig field (fields: {', '.join(field_names())})"
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hidden_sizes"] = list(self.hidden_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DQNConfig:
        unknown = sorted(set(data) - set(field_names()))
        if unknown:
            raise ValueError(
                f"{unknown[0]}: not a DQNConfig field (fields: {', '.join(field_names())})"
            )
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DQNConfig:
        return cls.from_dict(json.loads(text))


def _multiple(name: str, value: int, of_name: str, of_value: int) -> None:
    if value % of_value:
        raise ValueError(f"{name}: must be a multiple of {of_name} ({of_value}), got {value}")


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(DQNConfig)]


def traced_fields() -> list[str]:
    """Fields that are traced values in the compiled program (sweepable without recompiling)."""
    return [f.name for f in dataclasses.fields(DQNConfig) if f.metadata["traced"]]


def static_fields() -> list[str]:
    """Fields that fix shapes, loop counts or program structure (changing one recompiles)."""
    return [f.name for f in dataclasses.fields(DQNConfig) if not f.metadata["traced"]]
