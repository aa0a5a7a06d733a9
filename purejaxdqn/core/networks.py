"""The Q-network: a torso (MLP, or a small convolution for image-like observations), then
a linear Q head or a dueling head."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "swish": nn.swish,
    "tanh": jnp.tanh,
    "elu": nn.elu,
    "gelu": nn.gelu,
}


CONV_CHANNELS = 16  # MinAtar's network (Young & Tian 2019): one 3x3 conv, 16 channels


class QNetwork(nn.Module):
    """Q-network: torso, hidden layers, then a Q head.

    `apply(params, obs)`: obs `(*batch, *obs_shape)` -> q `(*batch, num_actions)`.

    conv=False: observations of any shape are flattened into the MLP.
    conv=True: obs are (H, W, C) images; one 3x3, stride-1, SAME convolution with
    `CONV_CHANNELS` channels and the activation, flattened into the MLP.
    dueling=True: Q = V + A - mean_a A, with V (1 unit) and A (num_actions units) as two
    linear heads on the last hidden layer (Wang et al. 2016, eq. 9).
    obs_center, obs_scale: if given (flattened, one per observation element), the input
    is (obs - center) / scale first (`observation_scaling`).
    """

    num_actions: int
    hidden_sizes: Sequence[int]
    activation: str
    obs_ndim: int
    conv: bool = False
    dueling: bool = False
    obs_center: tuple[float, ...] | None = None
    obs_scale: tuple[float, ...] | None = None

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        obs_shape = obs.shape[obs.ndim - self.obs_ndim :]
        batch_shape = obs.shape[: obs.ndim - self.obs_ndim]
        act = _ACTIVATIONS[self.activation]
        x = obs.astype(jnp.float32)
        if self.obs_center is not None and self.obs_scale is not None:
            center = jnp.asarray(self.obs_center, jnp.float32).reshape(obs_shape)
            x = (x - center) / jnp.asarray(self.obs_scale, jnp.float32).reshape(obs_shape)
        if self.conv:
            x = jnp.reshape(x, (-1, *obs_shape))  # (N, H, W, C)
            x = act(nn.Conv(CONV_CHANNELS, (3, 3), padding="SAME")(x))
        x = jnp.reshape(x, (*batch_shape, -1))
        # Glorot-uniform kernels and zero biases: Keras' Dense defaults, as in the notebook.
        dense = functools.partial(nn.Dense, kernel_init=nn.initializers.glorot_uniform())
        for width in self.hidden_sizes:
            x = act(dense(width)(x))
        if not self.dueling:
            return dense(self.num_actions)(x)
        advantage = dense(self.num_actions, name="advantage")(x)  # (*batch, num_actions)
        value = dense(1, name="value")(x)  # (*batch, 1)
        return value + advantage - jnp.mean(advantage, axis=-1, keepdims=True)


def init_params(network: QNetwork, key: jax.Array, obs: jax.Array) -> Any:
    """`network.init(key, obs)`, with every weight cut from one random draw.

    The same parameter tree and distributions as the initializers `QNetwork` declares:
    Glorot-uniform Dense kernels, flax's default LeCun-normal (truncated at two standard
    deviations) for the conv kernel, zero biases. `network.init` would fold a key and
    draw once per layer (six random call sites for three layers), and every random call
    site is a loop that XLA compiles (benchmarks/RESULTS.md, "The cold compile").
    """
    shapes = jax.eval_shape(network.init, key, obs)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes)
    kernels = [leaf.size for path, leaf in leaves if _leaf_name(path) == "kernel"]
    pool = jax.random.uniform(key, (sum(kernels),), jnp.float32, -1.0, 1.0)  # the one draw
    values, start = [], 0
    for path, leaf in leaves:
        name = _leaf_name(path)
        if name == "bias":
            values.append(jnp.zeros(leaf.shape, leaf.dtype))
            continue
        if name != "kernel" or leaf.ndim not in (2, 4):
            raise ValueError(
                f"init_params: no initializer for parameter {jax.tree_util.keystr(path)}"
            )
        u = pool[start : start + leaf.size].reshape(leaf.shape)
        start += leaf.size
        fan_in = int(np.prod(leaf.shape[:-1]))
        if leaf.ndim == 2:  # Dense: Glorot uniform, U(-limit, limit)
            limit = np.sqrt(6.0 / (fan_in + leaf.shape[-1]))
            values.append((u * limit).astype(leaf.dtype))
        else:  # Conv: LeCun normal, a standard normal truncated to (-2, 2), rescaled
            bound = math.erf(2.0 / math.sqrt(2.0))
            z = np.sqrt(2.0) * jax.scipy.special.erfinv(u * bound)
            stddev = np.sqrt(1.0 / fan_in) / _TRUNCATED_NORMAL_STDDEV
            values.append((z * stddev).astype(leaf.dtype))
    return jax.tree_util.tree_unflatten(treedef, values)


# The standard deviation of a standard normal truncated to (-2, 2) (flax's variance_scaling).
_TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


def _leaf_name(path: Any) -> str:
    last = path[-1]
    return str(getattr(last, "key", last))


def q_function(network: QNetwork) -> Callable[[Any, jax.Array], jax.Array]:
    """`network.apply` typed as `(params, obs) -> q`."""

    def q(params: Any, obs: jax.Array) -> jax.Array:
        return cast(jax.Array, network.apply(params, obs))

    return q


def make_q_network(
    num_actions: int,
    hidden_sizes: Sequence[int],
    activation: str,
    obs_shape: Sequence[int],
    torso: str = "auto",
    dueling: bool = False,
    obs_bounds: tuple[Any, Any] | None = None,
) -> QNetwork:
    """Builds the module; use it as the pure pair `init(key, obs)` / `apply(params, obs)`.

    torso: "mlp", "conv" (needs (H, W, C) observations) or "auto" (conv exactly when the
    observations are rank 3). obs_bounds: (low, high) of the observation space, to
    rescale its bounded dimensions to [-1, 1] (`observation_scaling`).
    """
    if torso == "conv" and len(obs_shape) != 3:
        raise ValueError(
            f"torso: conv needs image-like (H, W, C) observations, these have shape "
            f"{tuple(obs_shape)}; use torso=mlp or auto"
        )
    if torso not in ("auto", "mlp", "conv"):
        raise ValueError(f"torso: must be one of auto, mlp, conv, got {torso!r}")
    return QNetwork(
        num_actions=num_actions,
        hidden_sizes=tuple(hidden_sizes),
        activation=activation,
        obs_ndim=len(obs_shape),
        conv=torso == "conv" or (torso == "auto" and len(obs_shape) == 3),
        dueling=dueling,
        **({} if obs_bounds is None else observation_scaling(obs_shape, *obs_bounds)),
    )


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
