"""QR-DQN (Dabney et al. 2018): `num_quantiles` quantiles of the return per action,
learned by quantile Huber regression (kappa = 1) on the Bellman target's quantiles. Works
with Double DQN, dueling and noisy heads, n-step returns and prioritized replay
(priorities from the quantile loss).

Written for a single transition with time-indexed names, as in rlax; `make` batches.
"""

from __future__ import annotations

from typing import Any

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from purejaxdqn.agents.base import Agent, make_init, make_outputs
from purejaxdqn.agents.dqn import transition_discount
from purejaxdqn.agents.heads import ActionHead
from purejaxdqn.config import DQNConfig
from purejaxdqn.core.networks import QNetwork
from purejaxdqn.replay.transition import Transition

HUBER = 1.0  # kappa of the quantile Huber loss, the paper's


def quantile_midpoints(num_quantiles: int) -> jax.Array:
    """tau_i = (2i + 1) / (2N): the quantile fractions the N outputs estimate."""
    return (jnp.arange(num_quantiles, dtype=jnp.float32) + 0.5) / num_quantiles


def quantile_td(
    dist_tm1: jax.Array,
    a_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    dist_t: jax.Array,
    q_t_selector: jax.Array,
    taus: jax.Array,
) -> jax.Array:
    """Quantile Huber loss of a_tm1's quantiles against the target's.

    dist_tm1, dist_t: (num_actions, num_quantiles); q_t_selector: (num_actions,) picks
    the next action; taus: (num_quantiles,). Returns a scalar: the sum over predicted
    quantiles of the mean over target quantiles of |tau - 1{u < 0}| * huber(u).
    """
    chex.assert_rank([dist_tm1, a_tm1, r_t, discount_t, dist_t, q_t_selector], [2, 0, 0, 0, 2, 1])
    target = jax.lax.stop_gradient(r_t + discount_t * dist_t[jnp.argmax(q_t_selector)])
    u = target[None, :] - dist_tm1[a_tm1][:, None]  # (predicted, target)
    weight = jnp.abs(taus[:, None] - (u < 0).astype(u.dtype))
    return jnp.sum(jnp.mean(weight * optax.huber_loss(u, delta=HUBER), axis=-1))


def make(config: DQNConfig, torso: nn.Module, num_actions: int, **network: Any) -> Agent:
    """QR-DQN's agent: `num_quantiles` outputs per action on `torso`."""
    head = ActionHead(num_actions, config.num_quantiles, config.dueling, config.noisy)
    net = QNetwork(torso=torso, head=head, **network)
    outputs = make_outputs(net, config.noisy)
    taus = quantile_midpoints(config.num_quantiles)

    def q_values(params: Any, obs: jax.Array, key: Any = None) -> jax.Array:
        return jnp.mean(outputs(params, obs, key), axis=-1)

    def loss(params, target_params, batch: Transition, hp, weights: jax.Array, key: jax.Array):
        online_key, target_key = jax.random.split(key)
        both = outputs(params, jnp.concatenate([batch.obs, batch.next_obs]), online_key, True)
        dist_tm1, dist_t_online = jnp.split(both, 2)  # (B, A, N) each
        dist_t = outputs(target_params, batch.next_obs, target_key, True)
        selector = jnp.mean(dist_t_online if config.double_q else dist_t, axis=-1)
        discount = transition_discount(batch, hp.gamma)
        per_transition = jax.vmap(quantile_td, in_axes=(0, 0, 0, 0, 0, 0, None))(
            dist_tm1, batch.action, batch.reward, discount, dist_t, selector, taus
        )  # (B,)
        return jnp.mean(weights * per_transition), per_transition

    return Agent(network=net, init=make_init(net, config.noisy), q_values=q_values, loss=loss)
