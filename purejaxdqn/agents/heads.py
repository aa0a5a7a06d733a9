"""The heads the algorithms put on a torso: one output vector per action."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from purejaxdqn.core.networks import Dense, NoisyDense


class ActionHead(nn.Module):
    """features `[..., F]` -> `[..., num_actions, width]`: `width` outputs per action (1
    for Q-values, atoms' logits for C51, quantiles for QR-DQN).

    dueling (Wang et al. 2016, eq. 9): V `[..., 1, width]` + A - mean over actions of A,
    from two linear layers. noisy: `NoisyDense` layers, their noise as `noise` says.
    """

    num_actions: int
    width: int = 1
    dueling: bool = False
    noisy: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, noise: str = "none") -> jax.Array:
        def linear(features: int, name: str | None) -> jax.Array:
            if self.noisy:
                return NoisyDense(features, name=name)(x, noise)
            return Dense(features, name=name)(x)

        shape = (*x.shape[:-1], self.num_actions, self.width)
        if not self.dueling:
            return linear(self.num_actions * self.width, None).reshape(shape)
        advantage = linear(self.num_actions * self.width, "advantage").reshape(shape)
        value = linear(self.width, "value").reshape(*x.shape[:-1], 1, self.width)
        return value + advantage - jnp.mean(advantage, axis=-2, keepdims=True)
