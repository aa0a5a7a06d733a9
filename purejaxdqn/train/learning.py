"""Learning: the optimizer, one gradient step with the divergence guard, target updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from purejaxdqn.config import DQNConfig
from purejaxdqn.train.state import LearnerState


def make_optimizer(config: DQNConfig, hp: Any) -> optax.GradientTransformation:
    """Gradient clipping, then Adam at the config's learning-rate schedule.

    "linear" decays from hp.learning_rate to hp.learning_rate_end over the run's
    `num_gradient_steps` (built from the traced values, so sweeps over learning_rate
    still share one program)."""
    learning_rate: Any = hp.learning_rate
    if config.learning_rate_schedule == "linear":
        learning_rate = optax.linear_schedule(
            hp.learning_rate, hp.learning_rate_end, config.num_gradient_steps
        )
    return optax.chain(optax.clip_by_global_norm(hp.max_grad_norm), optax.adam(learning_rate))


class LearnOutput(NamedTuple):
    loss: jax.Array  # shape=(): the loss before the step
    errors: jax.Array  # (batch_size,): per-transition errors, for replay priorities
    applied: jax.Array  # shape=(), bool: the step was taken
    finite: jax.Array  # shape=(), bool: the step was finite (False: the seed diverges)


def make_learn(
    loss_fn: Callable, optimizer: Callable[[Any], optax.GradientTransformation]
) -> Callable[..., tuple[LearnerState, LearnOutput]]:
    """Returns `learn(learner, batch, weights, hp, active, key) -> (learner, LearnOutput)`:
    one gradient step of `loss_fn(params, target_params, batch, hp, weights, key)` (the key
    draws a noisy net's noise).

    The step is applied only where `active` (a traced bool: not in the warm-up, not
    diverged) and finite: a non-finite loss or update is dropped before it reaches the
    parameters, so a diverging seed keeps its last finite ones.
    """

    def learn(
        learner: LearnerState,
        batch: Any,
        weights: jax.Array,
        hp: Any,
        active: jax.Array,
        key: jax.Array,
    ) -> tuple[LearnerState, LearnOutput]:
        (loss, errors), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            learner.params, learner.target_params, batch, hp, weights, key
        )
        updates, opt_state = optimizer(hp).update(grads, learner.opt_state, learner.params)
        finite = jnp.isfinite(loss) & jnp.isfinite(optax.global_norm(updates))
        applied = active & finite
        params, opt_state = jax.tree.map(
            lambda new, old: jnp.where(applied, new, old),
            (optax.apply_updates(learner.params, updates), opt_state),
            (learner.params, learner.opt_state),
        )
        return learner.replace(params=params, opt_state=opt_state), LearnOutput(
            loss, errors, applied, finite
        )

    return learn


def update_target(learner: LearnerState, tau: jax.Array, due: jax.Array) -> LearnerState:
    """Where `due`: Polyak averaging of the target towards the online parameters at rate
    `tau` (`optax.incremental_update`; tau = 1 is a hard copy)."""
    averaged = optax.incremental_update(learner.params, learner.target_params, tau)
    target = jax.tree.map(
        lambda new, old: jnp.where(due, new, old), averaged, learner.target_params
    )
    return learner.replace(target_params=target)
