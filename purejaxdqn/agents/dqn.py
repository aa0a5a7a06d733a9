"""DQN (Mnih et al. 2015) and Double DQN (van Hasselt et al. 2016), with a linear or a
dueling head (Wang et al. 2016), plain or noisy (Fortunato et al. 2018).

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

from purejaxdqn.agents.base import Agent, make_init, make_outputs
from purejaxdqn.agents.heads import ActionHead
from purejaxdqn.config import DQNConfig
from purejaxdqn.core import losses
from purejaxdqn.core.networks import QNetwork
from purejaxdqn.replay.transition import Transition


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
    """The DQN family's agent: a Q-value head (dueling, noisy) on `torso`, and its
    (importance-weighted) TD loss with DQN or Double DQN targets."""
    head = ActionHead(num_actions, 1, config.dueling, config.noisy)
    net = QNetwork(torso=torso, head=head, **network)
    outputs = make_outputs(net, config.noisy)

    def q_values(params: Any, obs: jax.Array, key: Any = None) -> jax.Array:
        return outputs(params, obs, key)[..., 0]

    def loss(params, target_params, batch: Transition, hp, weights: jax.Array, key: jax.Array):
        """(mean of weights * per-transition loss, |TD errors| (B,) for priorities)."""
        online_key, target_key = jax.random.split(key)  # one noise draw per network

        def q(p: Any, obs: jax.Array, k: jax.Array) -> jax.Array:  # (B, A)
            return outputs(p, obs, k, shared=True)[..., 0]

        if config.double_q:  # one forward pass for s_{t-1} and s_t
            both = q(params, jnp.concatenate([batch.obs, batch.next_obs]), online_key)
            q_tm1, q_t_online = jnp.split(both, 2)
        else:
            q_tm1, q_t_online = q(params, batch.obs, online_key), None
        q_t_target = q(target_params, batch.next_obs, target_key)
        td = batched_td_errors(
            q_tm1,
            batch.action,
            batch.reward,
            transition_discount(batch, hp.gamma),
            q_t_target,
            q_t_online,
        )
        return losses.weighted_td_loss(td, weights, config.loss), jnp.abs(td)

    return Agent(network=net, init=make_init(net, config.noisy), q_values=q_values, loss=loss)
