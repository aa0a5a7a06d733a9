"""The Q-network: an MLP from observations to one Q-value per action."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, cast

import flax.linen as nn
import jax
import jax.numpy as jnp

_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "swish": nn.swish,
    "tanh": jnp.tanh,
    "elu": nn.elu,
    "gelu": nn.gelu,
}


class QNetwork(nn.Module):
    """MLP Q-network. Observations of any shape are flattened.

    `apply(params, obs)`: obs `(*batch, *obs_shape)` -> q `(*batch, num_actions)`.
    """

    num_actions: int
    hidden_sizes: Sequence[int]
    activation: str
    obs_ndim: int

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        batch_shape = obs.shape[: obs.ndim - self.obs_ndim]
        x = jnp.reshape(obs, (*batch_shape, -1)).astype(jnp.float32)
        act = _ACTIVATIONS[self.activation]
        # Glorot-uniform kernels and zero biases: Keras' Dense defaults, as in the notebook.
        dense = functools.partial(nn.Dense, kernel_init=nn.initializers.glorot_uniform())
        for width in self.hidden_sizes:
            x = act(dense(width)(x))
        return dense(self.num_actions)(x)


def q_function(network: QNetwork) -> Callable[[Any, jax.Array], jax.Array]:
    """`network.apply` typed as `(params, obs) -> q`."""

    def q(params: Any, obs: jax.Array) -> jax.Array:
        return cast(jax.Array, network.apply(params, obs))

    return q


def make_q_network(
    num_actions: int, hidden_sizes: Sequence[int], activation: str, obs_shape: Sequence[int]
) -> QNetwork:
    """Builds the module; use it as the pure pair `init(key, obs)` / `apply(params, obs)`."""
    return QNetwork(
        num_actions=num_actions,
        hidden_sizes=tuple(hidden_sizes),
        activation=activation,
        obs_ndim=len(obs_shape),
    )
