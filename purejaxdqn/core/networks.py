"""Q-networks as flax modules: a torso, then the algorithm's head.

A torso maps an observation batch `[..., *obs_shape]` to features `[..., F]`. The
built-in ones are `MLPTorso` and `ConvTorso` (MinAtar's network); any flax module whose
variables are all in the `params` collection can be one (`check_torso`). The head on top
belongs to the algorithm (`purejaxdqn.agents`). `QNetwork` composes them, after an
optional rescaling of the observations, so every policy built from a run sees the same.
Parameters come from flax's own `init`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "swish": nn.swish,
    "tanh": jnp.tanh,
    "elu": nn.elu,
    "gelu": nn.gelu,
}

CONV_CHANNELS = 16  # MinAtar's network (Young & Tian 2019): one 3x3 conv, 16 channels

# Glorot-uniform kernels and zero biases: Keras' Dense defaults, as in the notebook.
Dense = functools.partial(nn.Dense, kernel_init=nn.initializers.glorot_uniform())


class MLPTorso(nn.Module):
    """obs `[..., *obs_shape]` -> features `[..., hidden_sizes[-1]]`.

    The last `obs_ndim` axes are flattened, then one Dense layer and the activation per
    width in `hidden_sizes`.
    """

    hidden_sizes: Sequence[int]
    activation: str = "relu"
    obs_ndim: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = jnp.reshape(obs, (*obs.shape[: obs.ndim - self.obs_ndim], -1))
        for width in self.hidden_sizes:
            x = ACTIVATIONS[self.activation](Dense(width)(x))
        return x


class ConvTorso(nn.Module):
    """obs `[..., H, W, C]` -> features: one 3x3, stride-1, SAME convolution with
    `CONV_CHANNELS` channels and the activation, flattened into `MLPTorso`."""

    hidden_sizes: Sequence[int]
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        batch_shape = obs.shape[:-3]
        x = jnp.reshape(obs, (-1, *obs.shape[-3:]))  # (N, H, W, C)
        x = ACTIVATIONS[self.activation](nn.Conv(CONV_CHANNELS, (3, 3), padding="SAME")(x))
        x = jnp.reshape(x, (*batch_shape, -1))
        return MLPTorso(self.hidden_sizes, self.activation)(x)


class QNetwork(nn.Module):
    """obs `[..., *obs_shape]` -> the head's outputs (Q-values `[..., num_actions]` for DQN).

    obs_center, obs_scale: if given (flattened, one per observation element), the input
    is (obs - center) / scale first (`observation_scaling`).
    """

    torso: nn.Module
    head: nn.Module
    obs_shape: tuple[int, ...]
    obs_center: tuple[float, ...] | None = None
    obs_scale: tuple[float, ...] | None = None

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = obs.astype(jnp.float32)
        if self.obs_center is not None and self.obs_scale is not None:
            center = jnp.asarray(self.obs_center, jnp.float32).reshape(self.obs_shape)
            x = (x - center) / jnp.asarray(self.obs_scale, jnp.float32).reshape(self.obs_shape)
        return self.head(self.torso(x))


def builtin_torso(
    name: str, hidden_sizes: Sequence[int], activation: str, obs_shape: Sequence[int]
) -> nn.Module:
    """ "mlp", "conv" (needs (H, W, C) observations) or "auto" (conv exactly when the
    observations are rank 3)."""
    if name == "conv" and len(obs_shape) != 3:
        raise ValueError(
            f"torso: conv needs image-like (H, W, C) observations, these have shape "
            f"{tuple(obs_shape)}; use torso=mlp or auto"
        )
    if name == "conv" or (name == "auto" and len(obs_shape) == 3):
        return ConvTorso(tuple(hidden_sizes), activation)
    return MLPTorso(tuple(hidden_sizes), activation, obs_ndim=len(obs_shape))


def check_torso(torso: nn.Module, obs_shape: Sequence[int]) -> int:
    """The feature width F of `torso` on observations of `obs_shape`; a one-line error for
    a module that is not a torso (not a flax module, variables outside `params`, or an
    output that is not `[batch, F]`)."""
    name = type(torso).__name__
    if not isinstance(torso, nn.Module):
        raise ValueError(f"network: expected a flax.linen.Module torso, got {name}")
    obs = jax.ShapeDtypeStruct((2, *obs_shape), jnp.float32)
    variables = jax.eval_shape(torso.init, jax.random.key(0), obs)
    extra = sorted(set(variables) - {"params"})
    if extra:
        raise ValueError(
            f"network: {name} declares variables in {extra}; a torso keeps all of its "
            f"variables in 'params' (use LayerNorm rather than BatchNorm)"
        )
    features = jax.eval_shape(torso.apply, variables, obs)
    if not hasattr(features, "shape") or len(features.shape) != 2 or features.shape[0] != 2:
        shape = getattr(features, "shape", type(features).__name__)
        raise ValueError(
            f"network: {name} maps observations (2, *obs_shape) to {shape}; a torso "
            f"returns features [batch, F]"
        )
    return int(features.shape[1])


def observation_scaling(obs_shape: Sequence[int], low: Any, high: Any) -> dict[str, Any]:
    """Center and half-range per observation element, mapping [low, high] to [-1, 1].

    Unbounded elements are left as they are (center 0, scale 1): an infinite bound, or
    float32's largest value, which gymnax uses for "unbounded" (CartPole's velocities)."""
    low = np.broadcast_to(np.asarray(low, np.float64), tuple(obs_shape)).ravel()
    high = np.broadcast_to(np.asarray(high, np.float64), tuple(obs_shape)).ravel()
    largest = float(np.finfo(np.float32).max)
    bounded = (np.abs(low) < largest) & (np.abs(high) < largest) & (high > low)
    center = np.where(bounded, (high + low) / 2, 0.0)
    scale = np.where(bounded, (high - low) / 2, 1.0)
    return {"obs_center": tuple(map(float, center)), "obs_scale": tuple(map(float, scale))}
