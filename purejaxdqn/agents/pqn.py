"""PQN (Gallici et al. 2024, "Simplifying Deep Temporal Difference Learning"): no replay
buffer and no target network; Q(lambda) returns computed over each rollout of the
vectorized envs with the current network, then regressed on for a few epochs of
minibatches. The rollout loop is train/rollout.py.

`q_lambda_returns` is written for one env's trajectory over time, as rlax's
`lambda_returns`; the caller vmaps over envs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from purejaxdqn.agents.base import Agent, make_init, make_outputs
from purejaxdqn.agents.heads import ActionHead
from purejaxdqn.config import DQNConfig
from purejaxdqn.core.networks import QNetwork


class Batch(NamedTuple):
    """Transitions of a rollout with their Q(lambda) targets; leading axes (B,)."""

    obs: jax.Array  # (B, *obs_shape)
    action: jax.Array  # (B,) integer
    target: jax.Array  # (B,) float32: the Q(lambda) return of (obs, action)


def q_lambda_returns(
    r_t: jax.Array, discount_t: jax.Array, q_t: jax.Array, lambda_t: jax.Array
) -> jax.Array:
    """Peng's Q(lambda) returns of a trajectory, (T,):
    G_t = r_t + discount_t * ((1 - lambda_t) max_a q_t[a] + lambda_t G_{t+1}),
    bootstrapping from max_a q_t[-1] at the end.

    r_t, discount_t, lambda_t: (T,); q_t: (T, num_actions), the Q-values of the state each
    step led to (at an episode's end its final observation, before any reset). A step
    that ended its episode has lambda_t 0: its return bootstraps from that state alone
    (zero after a termination: discount_t is 0 there), never from the next episode.
    """
    chex.assert_rank([r_t, discount_t, q_t, lambda_t], [1, 1, 2, 1])
    v_t = jnp.max(q_t, axis=-1)

    def backward(g: jax.Array, step: tuple) -> tuple[jax.Array, jax.Array]:
        r, discount, v, lam = step
        g = r + discount * ((1.0 - lam) * v + lam * g)
        return g, g

    _, returns = jax.lax.scan(backward, v_t[-1], (r_t, discount_t, v_t, lambda_t), reverse=True)
    return jax.lax.stop_gradient(returns)


def make(config: DQNConfig, torso: nn.Module, num_actions: int, **network: Any) -> Agent:
    """PQN's agent: a Q-value head on `torso` (the `pqn` preset's is a LayerNorm MLP),
    and half the squared error to the Q(lambda) targets."""
    net = QNetwork(torso=torso, head=ActionHead(num_actions), **network)
    outputs = make_outputs(net, noisy=False)

    def q_values(params: Any, obs: jax.Array, key: Any = None) -> jax.Array:
        return outputs(params, obs)[..., 0]

    def loss(params, target_params, batch: Batch, hp, weights: jax.Array, key: Any = None):
        del target_params, key  # no target network, no noise
        q = q_values(params, batch.obs)  # (B, A)
        td = batch.target - jnp.take_along_axis(q, batch.action[:, None], axis=-1)[:, 0]
        return jnp.mean(weights * 0.5 * jnp.square(td)), jnp.abs(td)

    return Agent(network=net, init=make_init(net, noisy=False), q_values=q_values, loss=loss)
