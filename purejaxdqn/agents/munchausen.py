"""Munchausen DQN (Vieillard et al. 2020): the target adds the scaled log-probability of
the action taken under the soft policy softmax(q / temperature) (clipped below at
`munchausen_clip`) and bootstraps from the soft value of the next state; both policies
are the target network's. The paper's M-DQN: alpha 0.9, temperature 0.03, clip -1.

Written for a single transition with time-indexed names, as in rlax; `make` batches.
"""

from __future__ import annotations

from typing import Any

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from purejaxdqn.agents.base import Agent, make_init, make_outputs
from purejaxdqn.agents.dqn import td_error, transition_discount
from purejaxdqn.agents.heads import ActionHead
from purejaxdqn.config import DQNConfig
from purejaxdqn.core import losses
from purejaxdqn.core.networks import QNetwork
from purejaxdqn.replay.transition import Transition


def munchausen_target(
    q_tm1_target: jax.Array,
    a_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    q_t_target: jax.Array,
    alpha: jax.Array,
    temperature: jax.Array,
    clip: jax.Array,
) -> jax.Array:
    """r_t + alpha * temperature * clip(log pi(a_tm1 | s_tm1), clip, 0)
    + discount_t * sum_a pi(a | s_t) (q_t(a) - temperature * log pi(a | s_t)),
    pi = softmax(q / temperature) of the target network's q_tm1_target and q_t_target
    (num_actions,). Returns a scalar (eq. 2 of the paper)."""
    chex.assert_rank([q_tm1_target, a_tm1, r_t, discount_t, q_t_target], [1, 0, 0, 0, 1])
    log_pi_tm1 = jax.nn.log_softmax(q_tm1_target / temperature)
    bonus = alpha * temperature * jnp.clip(log_pi_tm1[a_tm1], clip, 0.0)
    log_pi_t = jax.nn.log_softmax(q_t_target / temperature)
    soft_value_t = jnp.sum(jnp.exp(log_pi_t) * (q_t_target - temperature * log_pi_t))
    return r_t + bonus + discount_t * soft_value_t


def make(config: DQNConfig, torso: nn.Module, num_actions: int, **network: Any) -> Agent:
    """M-DQN's agent: a Q-value head (dueling, noisy) on `torso`, and the TD loss of
    `config.loss` against the Munchausen target."""
    head = ActionHead(num_actions, 1, config.dueling, config.noisy)
    net = QNetwork(torso=torso, head=head, **network)
    outputs = make_outputs(net, config.noisy)

    def q_values(params: Any, obs: jax.Array, key: Any = None) -> jax.Array:
        return outputs(params, obs, key)[..., 0]

    def loss(params, target_params, batch: Transition, hp, weights: jax.Array, key: jax.Array):
        online_key, target_key = jax.random.split(key)
        q_tm1 = outputs(params, batch.obs, online_key, True)[..., 0]  # (B, A)
        both = outputs(
            target_params, jnp.concatenate([batch.obs, batch.next_obs]), target_key, True
        )
        q_tm1_target, q_t_target = jnp.split(both[..., 0], 2)
        targets = jax.vmap(munchausen_target, in_axes=(0, 0, 0, 0, 0, None, None, None))(
            q_tm1_target,
            batch.action,
            batch.reward,
            transition_discount(batch, hp.gamma),
            q_t_target,
            hp.munchausen_alpha,
            hp.munchausen_temperature,
            hp.munchausen_clip,
        )
        td = jax.vmap(td_error)(q_tm1, batch.action, targets)
        return losses.weighted_td_loss(td, weights, config.loss), jnp.abs(td)

    return Agent(network=net, init=make_init(net, config.noisy), q_values=q_values, loss=loss)
