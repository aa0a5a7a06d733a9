"""C51 (Bellemare et al. 2017): a categorical return distribution on `num_atoms` evenly
spaced values from `v_min` to `v_max`, learned by projecting the Bellman target onto the
support and minimising the cross-entropy. Works with Double DQN (the online network picks
the next action), dueling and noisy heads, n-step returns and prioritized replay
(priorities from the cross-entropy).

Written for a single transition with time-indexed names, as in rlax; `make` batches.
"""

from __future__ import annotations

from typing import Any

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from purejaxdqn.agents.base import Agent, make_init, make_outputs
from purejaxdqn.agents.dqn import transition_discount
from purejaxdqn.agents.heads import ActionHead
from purejaxdqn.config import DQNConfig
from purejaxdqn.core.networks import QNetwork
from purejaxdqn.replay.transition import Transition


def categorical_projection(z_p: jax.Array, probs: jax.Array, z_q: jax.Array) -> jax.Array:
    """The distribution of values z_p (P,) with probabilities probs (P,) on the evenly
    spaced support z_q (Q,): each mass, clipped to the support, split between its two
    nearest atoms in proportion to closeness (Bellemare et al. 2017, algorithm 1)."""
    chex.assert_rank([z_p, probs, z_q], 1)
    spacing = z_q[1] - z_q[0]
    position = (jnp.clip(z_p, z_q[0], z_q[-1]) - z_q[0]) / spacing  # (P,) in atom units
    atoms = jnp.arange(z_q.shape[0], dtype=position.dtype)
    share = jnp.clip(1.0 - jnp.abs(position[None, :] - atoms[:, None]), 0.0, 1.0)  # (Q, P)
    return share @ probs


def categorical_td(
    logits_tm1: jax.Array,
    a_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    logits_t: jax.Array,
    q_t_selector: jax.Array,
    support: jax.Array,
) -> jax.Array:
    """Cross-entropy between the projected target and the predicted distribution of a_tm1.

    logits_tm1, logits_t: (num_actions, num_atoms); q_t_selector: (num_actions,) picks the
    next action (the target network's expected values for C51, the online one's for
    Double); support: (num_atoms,). Returns a scalar, with no gradient through the target.
    """
    chex.assert_rank(
        [logits_tm1, a_tm1, r_t, discount_t, logits_t, q_t_selector], [2, 0, 0, 0, 2, 1]
    )
    probs_t = jax.nn.softmax(logits_t[jnp.argmax(q_t_selector)])
    target = categorical_projection(r_t + discount_t * support, probs_t, support)
    log_probs_tm1 = jax.nn.log_softmax(logits_tm1[a_tm1])
    return -jnp.sum(jax.lax.stop_gradient(target) * log_probs_tm1)


def make(config: DQNConfig, torso: nn.Module, num_actions: int, **network: Any) -> Agent:
    """C51's agent: `num_atoms` logits per action on `torso`."""
    head = ActionHead(num_actions, config.num_atoms, config.dueling, config.noisy)
    net = QNetwork(torso=torso, head=head, **network)
    outputs = make_outputs(net, config.noisy)
    support = jnp.linspace(config.v_min, config.v_max, config.num_atoms, dtype=jnp.float32)

    def expected(logits: jax.Array) -> jax.Array:  # (..., A, K) -> (..., A)
        return jnp.sum(jax.nn.softmax(logits) * support, axis=-1)

    def q_values(params: Any, obs: jax.Array, key: Any = None) -> jax.Array:
        return expected(outputs(params, obs, key))

    def loss(params, target_params, batch: Transition, hp, weights: jax.Array, key: jax.Array):
        online_key, target_key = jax.random.split(key)
        both = outputs(params, jnp.concatenate([batch.obs, batch.next_obs]), online_key, True)
        logits_tm1, logits_t_online = jnp.split(both, 2)  # (B, A, K) each
        logits_t = outputs(target_params, batch.next_obs, target_key, True)
        selector = expected(logits_t_online if config.double_q else logits_t)
        discount = transition_discount(batch, hp.gamma)
        cross_entropy = jax.vmap(categorical_td, in_axes=(0, 0, 0, 0, 0, 0, None))(
            logits_tm1, batch.action, batch.reward, discount, logits_t, selector, support
        )  # (B,)
        return jnp.mean(weights * cross_entropy), cross_entropy

    return Agent(network=net, init=make_init(net, config.noisy), q_values=q_values, loss=loss)
