"""The training state, nested by role, and what `train(key)` returns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import jax
from flax import struct

from purejaxdqn.config import DQNConfig
from purejaxdqn.core.episode_stats import EpisodeStats


class PeriodMetrics(NamedTuple):
    """Logged once per eval period; in a `TrainResult` each leaf has a leading (num_periods,)."""

    env_step: jax.Array  # int32: env steps this seed has taken (warm-up included)
    episode_return_mean: jax.Array  # float32: mean return of the last 100 training episodes
    episodes: jax.Array  # int32: training episodes finished since learning started
    loss: jax.Array  # float32: mean TD loss over the period's gradient steps (NaN: warm-up only)
    epsilon: jax.Array  # float32: exploration rate at the end of the period
    eval_return_mean: jax.Array  # float32: greedy return over eval_episodes fresh episodes
    eval_return_std: jax.Array  # float32
    frozen: jax.Array  # bool: learning stopped (solved, with freeze_when_solved)
    diverged: jax.Array  # bool: a loss or parameter became non-finite; learning stopped


@struct.dataclass
class LearnerState:
    """What gradient steps change."""

    params: Any  # the online network's variables
    target_params: Any
    opt_state: Any

    if TYPE_CHECKING:  # flax adds `replace`; tell the type checker

        def replace(self, **changes: Any) -> LearnerState: ...


@struct.dataclass
class ActorState:
    """The vectorized envs as the actor left them."""

    env_state: Any  # leaves (num_envs, ...)
    obs: jax.Array  # (num_envs, *obs_shape)
    stats: EpisodeStats  # training episodes' returns
    window: Any = None  # n_step > 1: the last n one-step transitions (replay.n_step.Window)

    if TYPE_CHECKING:

        def replace(self, **changes: Any) -> ActorState: ...


@struct.dataclass
class Progress:
    """Counters, flags and the metrics history."""

    env_step: jax.Array  # shape=(), int32: env steps taken, summed over the envs
    iteration: jax.Array  # shape=(), int32: training iterations done
    period: jax.Array  # shape=(), int32: eval periods done
    frozen: jax.Array  # shape=(), bool: solved and frozen (freeze_when_solved)
    diverged: jax.Array  # shape=(), bool: an update went non-finite and was dropped
    diverged_step: jax.Array  # shape=(), int32: env step it happened at, -1 if never
    history: PeriodMetrics  # leaves (num_periods,)

    if TYPE_CHECKING:

        def replace(self, **changes: Any) -> Progress: ...


@struct.dataclass
class TrainState:
    """Everything a run carries; a checkpoint of it resumes the run exactly."""

    learner: LearnerState
    actor: ActorState
    buffer: Any  # replay.uniform.BufferState or replay.prioritized.PrioritizedBufferState
    progress: Progress
    key: jax.Array  # the run's key, split at every use

    if TYPE_CHECKING:

        def replace(self, **changes: Any) -> TrainState: ...


@struct.dataclass
class TrainResult:
    """What `train(key)` returns. Under `jax.vmap` every array gains a leading seed axis."""

    config: DQNConfig = struct.field(pytree_node=False)
    params: Any
    metrics: PeriodMetrics  # leaves (num_periods,)
    final_eval_returns: jax.Array  # (eval_episodes,): greedy returns of the final params
    state: TrainState
    network: Any = struct.field(pytree_node=False, default=None)  # a custom torso, or None

    if TYPE_CHECKING:

        def replace(self, **changes: Any) -> TrainResult: ...
