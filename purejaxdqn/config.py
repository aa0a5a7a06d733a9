"""`DQNConfig`: every hyperparameter of a run, typed, frozen and validated.

Each field declares once, where it is defined: whether it is *static* (it fixes a shape, a
loop count or the program's structure; changing it recompiles) or *traced* (a number
inside the compiled program), what it means, and which values it allows. The rest is
derived from those declarations: `Hyperparams` (the traced values `train(key,
hyperparams)` takes, vmappable), `parse_value` (the CLI's `--set FIELD=VALUE`), and the
fields a sweep may vary (`traced_fields()`).

Timestep counts (`total_timesteps`, `learning_starts`, `train_frequency`,
`target_update_frequency`, `eval_frequency`, `epsilon_decay_steps`) are environment
steps summed over the `num_envs` vectorized environments.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import math
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

ALGORITHMS = ("dqn", "c51", "qr-dqn", "m-dqn", "pqn")
REPLAY = ("dqn", "c51", "qr-dqn", "m-dqn")  # with a replay buffer and a target network
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

Check = Callable[[str, Any], None]  # (field name, value) -> None, or ValueError


# ------------------------------------------------------------ field checks
def _fail(name: str, allowed: str, value: Any) -> None:
    raise ValueError(f"{name}: must be {allowed}, got {value!r}")


def _integer(low: int) -> Check:
    allowed = "a positive integer" if low == 1 else f"an integer >= {low}"

    def check(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            _fail(name, allowed, value)

    return check


def _number(low: float, high: float = math.inf, low_open: bool = False) -> Check:
    if high == math.inf:
        allowed = f"> {low:g}" if low_open else f">= {low:g}"
    else:
        allowed = f"in ({low:g}, {high:g}]" if low_open else f"in [{low}, {high}]"

    def check(name: str, value: Any) -> None:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not (low < value if low_open else low <= value) or not value <= high:
            _fail(name, allowed, value)

    return check


def _optional(check: Check, allowed: str) -> Check:
    def optional(name: str, value: Any) -> None:
        if value is None:
            return
        try:
            check(name, value)
        except ValueError:
            _fail(name, allowed, value)

    return optional


def _one_of(options: Sequence[str]) -> Check:
    def check(name: str, value: Any) -> None:
        if value not in options:
            _fail(name, f"one of {tuple(options)}", value)

    return check


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(name, "true or false", value)


def _widths(name: str, value: Any) -> None:
    if not value or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in value):
        _fail(name, "one or more positive widths", value)


def _env_id(name: str, value: Any) -> None:
    from purejaxdqn.core import envs  # local: keeps `import purejaxdqn.config` light

    envs.check_env_id(value)


def _key_impl(name: str, value: Any) -> None:
    from purejaxdqn.core import prng

    prng.check_impl(value)


def _field(default: Any, doc: str, check: Check, traced: bool, applies: Sequence[str]) -> Any:
    metadata = {"traced": traced, "doc": doc, "check": check, "applies": tuple(applies)}
    return dataclasses.field(default=default, metadata=metadata)


def _static(default: Any, doc: str, check: Check, applies: Sequence[str] = ALGORITHMS) -> Any:
    return _field(default, doc, check, False, applies)


def _traced(default: Any, doc: str, check: Check, applies: Sequence[str] = ALGORITHMS) -> Any:
    return _field(default, doc, check, True, applies)


_POSITIVE, _COUNT, _UNIT = _integer(1), _integer(0), _number(0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class DQNConfig:
    """A complete, validated DQN configuration. Build variants with `.replace(**changes)`."""

    env_id: str = _static("CartPole-v1", "gymnax environment id", _env_id)
    algorithm: str = _static(
        "dqn",
        "dqn (the DQN family: double, dueling, n-step, prioritized), c51, qr-dqn, m-dqn, or "
        "pqn (no replay buffer, no target network)",
        _one_of(ALGORITHMS),
    )
    total_timesteps: int = _static(
        100_000,
        "env steps in the run, warm-up included; rounded down to whole eval periods",
        _POSITIVE,
    )
    num_envs: int = _static(4, "environments stepped in parallel per seed", _POSITIVE)
    buffer_size: int = _static(50_000, "replay buffer capacity in transitions", _POSITIVE, REPLAY)
    batch_size: int = _static(64, "transitions per gradient step", _POSITIVE, REPLAY)
    learning_starts: int = _static(
        1_000,
        "env steps of uniformly random warm-up before learning (multiple of num_envs); "
        "learning starts with the first round of gradient steps after them",
        _COUNT,
        REPLAY,
    )
    train_frequency: int = _static(
        4, "env steps between rounds of gradient steps (multiple of num_envs)", _POSITIVE, REPLAY
    )
    gradient_steps: int = _static(1, "gradient steps per round", _POSITIVE, REPLAY)
    target_update_frequency: int = _static(
        500, "env steps between target updates (multiple of train_frequency)", _POSITIVE, REPLAY
    )
    tau: float = _traced(
        1.0,
        "target update rate: 1.0 is a hard copy, below 1 Polyak averaging",
        _number(0.0, 1.0, low_open=True),
        REPLAY,
    )
    gamma: float = _traced(0.99, "discount factor in [0, 1]", _UNIT)
    learning_rate: float = _traced(1e-3, "Adam learning rate", _number(0.0, low_open=True))
    max_grad_norm: float | None = _traced(
        10.0,
        "clip gradients to this global norm; None for no clipping",
        _optional(_number(0.0, low_open=True), "> 0 or None (no clipping)"),
    )
    epsilon_start: float = _traced(1.0, "exploration rate when learning starts", _UNIT)
    epsilon_end: float = _traced(0.05, "exploration rate after the decay", _UNIT)
    epsilon_decay_steps: int = _traced(
        20_000, "env steps after learning_starts over which epsilon decays linearly", _COUNT
    )
    hidden_sizes: tuple[int, ...] = _static((64, 64), "widths of the MLP's hidden layers", _widths)
    activation: str = _static(
        "relu", f"hidden activation, one of {ACTIVATIONS}", _one_of(ACTIVATIONS)
    )
    double_q: bool = _static(
        True,
        "Double DQN targets (van Hasselt et al. 2016) instead of DQN",
        _flag,
        ("dqn", "c51", "qr-dqn"),
    )
    loss: str = _static("mse", f"TD loss, one of {LOSSES}", _one_of(LOSSES), ("dqn", "m-dqn"))
    eval_frequency: int = _static(
        5_000,
        "env steps between greedy evaluations, counted from the run's first step "
        "(multiple of train_frequency)",
        _POSITIVE,
    )
    eval_episodes: int = _static(
        100, "fresh episodes per greedy evaluation (also the final evaluation)", _POSITIVE
    )
    solve_threshold: float | None = _static(
        None,
        "greedy eval return that counts as solved; None: the env's registered threshold",
        _optional(_number(-math.inf), "a number or None"),
    )
    freeze_when_solved: bool = _static(
        False,
        "stop a seed's learning (freeze its parameters) once a greedy eval reaches "
        "solve_threshold, as the notebook stops when solved",
        _flag,
    )
    dueling: bool = _static(
        False,
        "dueling head: Q = V + A - mean(A) from a shared torso (Wang et al. 2016)",
        _flag,
        REPLAY,
    )
    n_step: int = _static(
        1,
        "rewards summed per stored transition (n-step returns; cut at episode ends, "
        "bootstrapping from the final observation at a time limit)",
        _integer(1),
        REPLAY,
    )
    prioritized_replay: bool = _static(
        False,
        "proportional prioritized replay with a sum tree and importance-sampling weights "
        "(Schaul et al. 2016)",
        _flag,
        REPLAY,
    )
    priority_alpha: float = _traced(
        0.6,
        "prioritized replay: sampling probability proportional to priority ** alpha",
        _UNIT,
        REPLAY,
    )
    priority_beta_start: float = _traced(
        0.4,
        "prioritized replay: importance-sampling exponent at learning_starts, annealed "
        "linearly to 1 at total_timesteps",
        _UNIT,
        REPLAY,
    )
    priority_epsilon: float = _static(
        1e-6,
        "prioritized replay: priority = |TD error| + priority_epsilon (> 0: every stored "
        "transition keeps a chance to be sampled)",
        _number(0.0, low_open=True),
        REPLAY,
    )
    learning_rate_schedule: str = _static(
        "constant",
        f"one of {LEARNING_RATE_SCHEDULES}: linear decays learning_rate to learning_rate_end "
        f"over the run's gradient steps",
        _one_of(LEARNING_RATE_SCHEDULES),
    )
    learning_rate_end: float = _traced(
        0.0,
        "final learning rate of the linear schedule (unused when constant)",
        _number(0.0),
    )
    normalize_observations: bool = _static(
        False,
        "rescale each observation dimension that the env's observation space bounds to "
        "[-1, 1], inside the Q-network (unbounded ones: infinite or float32's largest value)",
        _flag,
    )
    torso: str = _static(
        "auto",
        f"one of {TORSOS}: auto is conv for image-like (H, W, C) observations (MinAtar), "
        f"else an MLP; conv is one 16-channel 3x3 convolution before hidden_sizes",
        _one_of(TORSOS),
    )
    layer_norm: bool = _static(
        False, "LayerNorm after each hidden Dense layer of the built-in torso (PQN's)", _flag
    )
    noisy: bool = _static(
        False,
        "noisy nets (Fortunato et al. 2018): factorised Gaussian linear layers in the head, "
        "exploring through their noise (epsilon may be 0); greedy evaluations use the means",
        _flag,
        REPLAY,
    )
    noisy_sigma0: float = _traced(
        0.5, "noisy nets: initial noise scale, sigma = noisy_sigma0 / sqrt(fan_in)", _number(0.0),
        REPLAY,
    )  # fmt: skip
    num_atoms: int = _static(
        51, "c51: atoms of the return distribution's support", _integer(2), ("c51",)
    )
    v_min: float = _static(-10.0, "c51: the support's smallest value", _number(-math.inf), ("c51",))
    v_max: float = _static(
        10.0, "c51: the support's largest value (> v_min)", _number(-math.inf), ("c51",)
    )
    num_quantiles: int = _static(
        51, "qr-dqn: quantiles of the return distribution", _integer(1), ("qr-dqn",)
    )
    munchausen_alpha: float = _traced(
        0.9, "m-dqn: weight of the scaled log-policy bonus", _UNIT, ("m-dqn",)
    )
    munchausen_temperature: float = _traced(
        0.03,
        "m-dqn: entropy temperature of the soft policy softmax(q / temperature)",
        _number(0.0, low_open=True),
        ("m-dqn",),
    )
    munchausen_clip: float = _traced(
        -1.0, "m-dqn: lower clip of the log-policy bonus (<= 0)", _number(-math.inf, 0.0),
        ("m-dqn",),
    )  # fmt: skip
    num_steps: int = _static(32, "pqn: steps of each env per rollout", _POSITIVE, ("pqn",))
    num_epochs: int = _static(4, "pqn: passes over each rollout", _POSITIVE, ("pqn",))
    num_minibatches: int = _static(
        16, "pqn: minibatches per pass (they divide num_steps * num_envs)", _POSITIVE, ("pqn",)
    )
    q_lambda: float = _traced(0.95, "pqn: lambda of the Q(lambda) returns", _UNIT, ("pqn",))
    reward_scale: float = _traced(
        1.0, "pqn: rewards are multiplied by this in the returns", _number(0.0, low_open=True),
        ("pqn",),
    )  # fmt: skip
    key_impl: str = _static(
        "philox4x32",
        "jax.random key implementation of the run's random numbers: philox4x32 or "
        "threefry2x32 (JAX's default)",
        _key_impl,
    )

    def __post_init__(self) -> None:
        # Normalise JSON-friendly types (lists from JSON).
        if isinstance(self.hidden_sizes, list | tuple):
            object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        self.validate()

    # ----------------------------------------------------------------- derived
    @property
    def replay(self) -> bool:
        """Whether the algorithm learns from a replay buffer with a target network."""
        return self.algorithm in REPLAY

    @property
    def env_steps_per_iteration(self) -> int:
        """Env steps (summed over the envs) of one training iteration: `train_frequency`
        with replay, a rollout of `num_steps` steps of every env with PQN."""
        return self.train_frequency if self.replay else self.num_steps * self.num_envs

    @property
    def steps_per_iteration(self) -> int:
        """Vectorized env steps per training iteration (then its gradient steps)."""
        return self.env_steps_per_iteration // self.num_envs

    @property
    def warmup_steps(self) -> int:
        """Env steps of uniformly random warm-up: `learning_starts` with replay, none with
        PQN. Epsilon decays from here."""
        return self.learning_starts if self.replay else 0

    @property
    def warmup_iterations(self) -> int:
        """Training iterations that act at random and do not learn: those that start
        before `warmup_steps` env steps (the warm-up rounded up to whole iterations)."""
        return -(-self.warmup_steps // self.env_steps_per_iteration)

    @property
    def iterations_per_period(self) -> int:
        return self.eval_frequency // self.env_steps_per_iteration

    @property
    def num_periods(self) -> int:
        """Eval periods in the run (the warm-up is part of the first ones)."""
        return self.total_timesteps // self.eval_frequency

    @property
    def gradient_steps_per_iteration(self) -> int:
        return self.gradient_steps if self.replay else self.num_epochs * self.num_minibatches

    @property
    def num_gradient_steps(self) -> int:
        """Gradient steps in the whole run (the length of the linear learning-rate decay)."""
        iterations = self.num_periods * self.iterations_per_period - self.warmup_iterations
        return iterations * self.gradient_steps_per_iteration

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
        return Hyperparams(**{name: _traced_value(getattr(self, name)) for name in TRACED})

    # ------------------------------------------------------------- validation
    def validate(self) -> None:
        """Raise `ValueError` naming the first bad field and its allowed values."""
        fields = dataclasses.fields(self)
        for f in fields:
            f.metadata["check"](f.name, getattr(self, f.name))
        for f in fields:  # a field of another algorithm keeps its default
            applies = f.metadata["applies"]
            if self.algorithm not in applies and getattr(self, f.name) != f.default:
                raise ValueError(
                    f"{f.name}: does not apply to algorithm {self.algorithm} (only to "
                    f"{', '.join(applies)}); leave it at its default {f.default!r}"
                )
        self._check_relations()
        if self.replay:
            self._check_replay_relations()
        else:
            self._check_rollout_relations()

    def _check_relations(self) -> None:
        """The checks that involve several fields, for every algorithm."""
        if self.learning_rate_end > self.learning_rate:
            _fail("learning_rate_end", f"in [0, learning_rate ({self.learning_rate})]",
                  self.learning_rate_end)  # fmt: skip
        if self.v_max <= self.v_min:
            _fail("v_max", f"> v_min ({self.v_min})", self.v_max)
        if self.total_timesteps < self.warmup_steps + self.eval_frequency:
            needed = self.warmup_steps + self.eval_frequency
            what = "learning_starts + eval_frequency" if self.replay else "eval_frequency"
            _fail("total_timesteps", f">= {what} ({needed})", self.total_timesteps)
        if self.freeze_when_solved and self.resolved_solve_threshold is None:
            raise ValueError(
                f"solve_threshold: {self.env_id} has no registered threshold; set one to use "
                f"freeze_when_solved"
            )

    def _check_replay_relations(self) -> None:
        for name, limit in (("batch_size", "buffer_size"), ("num_envs", "buffer_size")):
            if getattr(self, name) > getattr(self, limit):
                _fail(name, f"<= {limit} ({getattr(self, limit)})", getattr(self, name))
        for name, of in (
            ("learning_starts", "num_envs"),
            ("train_frequency", "num_envs"),
            ("target_update_frequency", "train_frequency"),
            ("eval_frequency", "train_frequency"),
        ):
            if getattr(self, name) % getattr(self, of):
                _fail(name, f"a multiple of {of} ({getattr(self, of)})", getattr(self, name))
        # The first batch must find stored transitions; n-step ones arrive n - 1 steps late.
        needed = self.batch_size + (self.n_step - 1) * self.num_envs
        if self.learning_starts < needed:
            why = "batch_size" if self.n_step == 1 else "batch_size + (n_step - 1) * num_envs"
            _fail("learning_starts", f">= {why} ({needed}) so the first batch samples stored "
                  f"transitions", self.learning_starts)  # fmt: skip

    def _check_rollout_relations(self) -> None:
        rollout = self.num_steps * self.num_envs
        if rollout % self.num_minibatches:
            _fail("num_minibatches", f"a divisor of num_steps * num_envs ({rollout})",
                  self.num_minibatches)  # fmt: skip
        if self.eval_frequency % rollout:
            _fail("eval_frequency", f"a multiple of num_steps * num_envs ({rollout})",
                  self.eval_frequency)  # fmt: skip

    # ---------------------------------------------------------- serialisation
    def replace(self, **changes: Any) -> DQNConfig:
        _known(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hidden_sizes"] = list(self.hidden_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DQNConfig:
        _known(data)
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DQNConfig:
        return cls.from_dict(json.loads(text))


def _known(names: typing.Iterable[str]) -> None:
    unknown = sorted(set(names) - set(field_names()))
    if unknown:
        raise ValueError(
            f"{unknown[0]}: not a DQNConfig field (fields: {', '.join(field_names())})"
        )


def _traced_value(value: Any) -> Any:
    """A traced field's value in the program: float32 (None, no clipping, is inf)."""
    import jax.numpy as jnp

    return jnp.float32(math.inf if value is None else value)


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(DQNConfig)]


def traced_fields() -> list[str]:
    """Fields that are traced values in the compiled program (sweepable without recompiling)."""
    return [f.name for f in dataclasses.fields(DQNConfig) if f.metadata["traced"]]


def static_fields() -> list[str]:
    """Fields that fix shapes, loop counts or program structure (changing one recompiles)."""
    return [f.name for f in dataclasses.fields(DQNConfig) if not f.metadata["traced"]]


TRACED = tuple(traced_fields())

if TYPE_CHECKING:
    Hyperparams = Any
else:
    Hyperparams = collections.namedtuple(
        "Hyperparams",
        TRACED,
        defaults=[f.default for f in dataclasses.fields(DQNConfig) if f.metadata["traced"]],
    )
    Hyperparams.__doc__ = (
        "The traced fields of a `DQNConfig`, one per field in declaration order: scalars, "
        "or arrays with a leading axis to vmap over settings. `config.hyperparams()` makes "
        "them; `hp._replace(learning_rate=...)` changes one without recompiling."
    )


@functools.cache
def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(DQNConfig)


def field_type(name: str) -> str:
    """A field's declared type, in words, for messages: "int", "float or none", ..."""
    kind = _field_types()[name]
    args = typing.get_args(kind)
    if type(None) in args:
        return f"{field_type_of(args[0])} or none"
    return field_type_of(kind)


def field_type_of(kind: Any) -> str:
    return {int: "integer", float: "number", bool: "true or false", str: "text"}.get(
        kind, "comma-separated integers"
    )


def from_number(name: str, value: float) -> Any:
    """A number (a sweep's setting) as the field's declared type: integer fields round."""
    return int(round(value)) if _field_types()[name] is int else float(value)


def parse_value(name: str, raw: str) -> Any:
    """`raw` (text, as `--set name=raw` gives it) as a value of the field's declared type;
    a ValueError naming the field and the type where it is not one."""
    _known([name])
    kind = _field_types()[name]
    args = typing.get_args(kind)
    if type(None) in args:
        if raw.strip().lower() in ("none", "null"):
            return None
        kind = args[0]
    text = raw.strip()
    try:
        if kind is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError
            return text.lower() == "true"
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is str:
            return text
        return tuple(int(x) for x in text.strip("()[] ").split(",") if x.strip())
    except ValueError:
        raise ValueError(f"{name}: expected {field_type(name)}, got {raw!r}") from None


def applies_to(name: str) -> tuple[str, ...]:
    """The algorithms a field applies to (the others refuse it away from its default)."""
    return next(f.metadata["applies"] for f in dataclasses.fields(DQNConfig) if f.name == name)


def fields_markdown() -> str:
    """The fields as a markdown table (docs/algorithms.md embeds it; a test compares)."""
    rows = ["| field | kind | default | algorithms | what it does |", "|---|---|---|---|---|"]
    for f in dataclasses.fields(DQNConfig):
        default = list(f.default) if isinstance(f.default, tuple) else f.default
        kind = "traced" if f.metadata["traced"] else "static"
        applies = f.metadata["applies"]
        algorithms = "all" if applies == ALGORITHMS else ", ".join(applies)
        doc = f.metadata["doc"].replace("|", "\\|")
        rows.append(f"| `{f.name}` | {kind} | `{json.dumps(default)}` | {algorithms} | {doc} |")
    return "\n".join(rows)


def algorithms_markdown() -> str:
    """Per algorithm, the fields of its own and those it refuses (the README embeds it)."""
    fields = dataclasses.fields(DQNConfig)
    rows = ["| algorithm | its own fields | refused (away from their defaults) |", "|---|---|---|"]
    for algorithm in ALGORITHMS:
        own = [f.name for f in fields if algorithm in f.metadata["applies"]
               and f.metadata["applies"] != ALGORITHMS]  # fmt: skip
        refused = [f.name for f in fields if algorithm not in f.metadata["applies"]]
        rows.append(f"| `{algorithm}` | {', '.join(own)} | {', '.join(refused) or '-'} |")
    return "\n".join(rows)
