"""DQN (Mnih et al. 2015) and Double DQN (van Hasselt et al. 2016), with a linear or a
dueling head (Wang et al. 2016).

Targets are written for a *single* transition with time-indexed names, as in rlax
(`q_tm1` = Q(s_{t-1}, .), `a_tm1`, `r_t`, `discount_t`, `q_t` = Q(s_t, .)); `make` batches
them into the loss the trainer differentiates.
"""

from __future__ import annotations

from typing import Any

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from purejaxdqn.agents.base import Agent
from purejaxdqn.config import DQNConfig
from purejaxdqn.core import losses
from purejaxdqn.core.networks import Dense, QNetwork
from purejaxdqn.replay.transition import Transition


class QHead(nn.Module):
    """features `[..., F]` -> Q-values `[..., num_actions]`: one linear layer, or with
    `dueling` Q = V + A - mean_a A from two linear layers (Wang et al. 2016, eq. 9)."""

    num_actions: int
    dueling: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if not self.dueling:
            return Dense(self.num_actions)(x)
        advantage = Dense(self.num_actions, name="advantage")(x)  # (..., num_actions)
        value = Dense(1, name="value")(x)  # (..., 1)
        return value + advantage - jnp.mean(advantage, axis=-1, keepdims=True)


def q_learning_target(r_t: jax.Array, discount_t: jax.Array, q_t: jax.Array) -> jax.Array:
    """DQN target r_t + discount_t * max_a q_t[a]. q_t: (num_actions,) from the target
    network. Returns a scalar."""
    chex.assert_rank([r_t, discount_t, q_t], [0, 0, 1])
    return r_t + discount_t * jnp.max(q_t)


def double_q_learning_target(
    r_t: jax.Array, discount_t: jax.Array, q_t_value: jax.Array, q_t_selector: jax.Array
) -> jax.Array:
    """Double DQN target r_t + discount_t * q_t_value[argmax q_t_selector].

    q_t_value: (num_actions,) from the target network; q_t_selector: (num_actions,) online.
    """
    chex.assert_rank([r_t, discount_t, q_t_value, q_t_selector], [0, 0, 1, 1])
    return r_t + discount_t * q_t_value[jnp.argmax(q_t_selector)]


def td_error(q_tm1: jax.Array, a_tm1: jax.Array, target: jax.Array) -> jax.Array:
    """target - q_tm1[a_tm1], with no gradient through the target."""
    chex.assert_rank([q_tm1, a_tm1, target], [1, 0, 0])
    return jax.lax.stop_gradient(target) - q_tm1[a_tm1]


def batched_td_errors(
    q_tm1: jax.Array,
    a_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    q_t_target: jax.Array,
    q_t_online: jax.Array | None,
) -> jax.Array:
    """TD errors for a batch: q (B, A), a/r/discount (B,) -> (B,). With `q_t_online`
    given, Double DQN targets; without, DQN targets."""
    if q_t_online is None:
        targets = jax.vmap(q_learning_target)(r_t, discount_t, q_t_target)
    else:
        targets = jax.vmap(double_q_learning_target)(r_t, discount_t, q_t_target, q_t_online)
    return jax.vmap(td_error)(q_tm1, a_tm1, targets)


def transition_discount(batch: Transition, gamma: jax.Array) -> jax.Array:
    """(B,) discounts: gamma, gamma ** steps for n-step transitions, 0 after termination."""
    if batch.steps is None:
        return losses.discount(batch.terminated, gamma)
    return losses.n_step_discount(batch.terminated, batch.steps, gamma)


def make(config: DQNConfig, torso: nn.Module, num_actions: int, **network: Any) -> Agent:
    """The DQN family's agent: `QHead` on `torso`, and its (weighted) TD loss."""
    net = QNetwork(torso=torso, head=QHead(num_actions, config.dueling), **network)

    def q_values(params: Any, obs: jax.Array) -> jax.Array:
        return net.apply(params, obs)  # type: ignore[return-value]

    def loss(params: Any, target_params: Any, batch: Transition, hp: Any, weights: jax.Array):
        """(mean of weights * per-transition loss, |TD errors| (B,) for priorities)."""
        if config.double_q:  # one forward pass for s_{t-1} and s_t
            q_tm1, q_t_online = jnp.split(
                q_values(params, jnp.concatenate([batch.obs, batch.next_obs])), 2
            )
        else:
            q_tm1, q_t_online = q_values(params, batch.obs), None
        q_t_target = q_values(target_params, batch.next_obs)
        td = batched_td_errors(
            q_tm1,
            batch.action,
            batch.reward,
            transition_discount(batch, hp.gamma),
            q_t_target,
            q_t_online,
        )
        return losses.weighted_td_loss(td, weights, config.loss), jnp.abs(td)

    return Agent(network=net, q_values=q_values, loss=loss)
