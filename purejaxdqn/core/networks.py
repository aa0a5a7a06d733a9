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

    The last `obs_ndim` axes are flattened, then per width in `hidden_sizes` a Dense
    layer, LayerNorm (with `layer_norm`, as in PQN) and the activation.
    """

    hidden_sizes: Sequence[int]
    activation: str = "relu"
    obs_ndim: int = 1
    layer_norm: bool = False

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = jnp.reshape(obs, (*obs.shape[: obs.ndim - self.obs_ndim], -1))
        for width in self.hidden_sizes:
            x = Dense(width)(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = ACTIVATIONS[self.activation](x)
        return x


class Conv3x3(nn.Module):
    """`nn.Conv(features, (3, 3), padding="SAME")` as one matmul of the 3x3 patches with
    the kernel: `(N, H, W, C) -> (N, H, W, features)`, the same parameters (kernel
    (3, 3, C, features), HWIO, and bias), initialisers and outputs up to float rounding.

    `ConvTorso` uses it on the CPU backend, where XLA runs a convolution inside the
    training scan several times slower than this matmul (benchmarks/RESULTS.md).
    """

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _, h, w, c = x.shape
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (3, 3, c, self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        patches = jnp.concatenate(
            [padded[:, i : i + h, j : j + w] for i in range(3) for j in range(3)], axis=-1
        )  # (N, H, W, 9 C), index (3 i + j) C + c: the kernel's own order
        return patches @ kernel.reshape(9 * c, self.features) + bias


class ConvTorso(nn.Module):
    """obs `[..., H, W, C]` -> features: one 3x3, stride-1, SAME convolution with
    `CONV_CHANNELS` channels (`Conv3x3` on the CPU backend, `nn.Conv` on others; one
    parameter tree, that of earlier releases) and the activation, flattened into
    `MLPTorso`."""

    hidden_sizes: Sequence[int]
    activation: str = "relu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        batch_shape = obs.shape[:-3]
        x = jnp.reshape(obs, (-1, *obs.shape[-3:]))  # (N, H, W, C)
        if jax.default_backend() == "cpu":
            conv: nn.Module = Conv3x3(CONV_CHANNELS, name="Conv_0")
        else:
            conv = nn.Conv(CONV_CHANNELS, (3, 3), padding="SAME", name="Conv_0")
        x = ACTIVATIONS[self.activation](conv(x))
        x = jnp.reshape(x, (*batch_shape, -1))
        return MLPTorso(self.hidden_sizes, self.activation, layer_norm=self.layer_norm)(x)


def _scaled_noise(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """f(e) = sign(e) sqrt(|e|) of standard normal e (factorised noise)."""
    e = jax.random.normal(key, shape)
    return jnp.sign(e) * jnp.sqrt(jnp.abs(e))


class NoisyDense(nn.Module):
    """A linear layer with factorised Gaussian noise (Fortunato et al. 2018, sec. 3):
    y = x (mu_W + sigma_W * f(e_in) f(e_out)^T) + mu_b + sigma_b * f(e_out).

    `noise`: "none" (the means: greedy evaluation and policies), "shared" (one draw for
    the whole batch: a gradient step) or "per_row" (one draw per leading row of x: one per
    env when acting); draws come from the "noise" rng stream. The means start uniform in
    +-1/sqrt(fan_in); the sigmas at 0.5/sqrt(fan_in), which `set_noise_scale` rescales.
    """

    features: int

    @nn.compact
    def __call__(self, x: jax.Array, noise: str = "none") -> jax.Array:
        fan_in = x.shape[-1]
        bound = 1.0 / np.sqrt(fan_in)

        def uniform(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32):
            return jax.random.uniform(key, shape, dtype, -bound, bound)

        sigma = nn.initializers.constant(0.5 * bound)
        kernel = self.param("kernel", uniform, (fan_in, self.features))
        bias = self.param("bias", uniform, (self.features,))
        sigma_kernel = self.param("sigma_kernel", sigma, (fan_in, self.features))
        sigma_bias = self.param("sigma_bias", sigma, (self.features,))
        y = x @ kernel + bias
        if noise == "none":
            return y
        rows = x.shape[:-1] if noise == "per_row" else ()
        in_key, out_key = jax.random.split(self.make_rng("noise"))
        e_in = _scaled_noise(in_key, (*rows, fan_in))
        e_out = _scaled_noise(out_key, (*rows, self.features))
        return y + ((x * e_in) @ sigma_kernel + sigma_bias) * e_out


def set_noise_scale(params: Any, sigma0: jax.Array) -> Any:
    """Every NoisyDense's sigmas set to sigma0 / sqrt(fan_in) (the paper's init), where
    sigma0 may be traced (a sweep over noisy_sigma0 shares one program)."""

    def visit(tree: Any) -> Any:
        if not isinstance(tree, dict):
            return tree
        tree = {k: visit(v) for k, v in tree.items()}
        if "sigma_kernel" in tree:
            scale = sigma0 / np.sqrt(tree["sigma_kernel"].shape[0])
            for name in ("sigma_kernel", "sigma_bias"):
                tree[name] = jnp.full_like(tree[name], scale)
        return tree

    return visit(params)


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
    def __call__(self, obs: jax.Array, noise: str = "none") -> jax.Array:
        """`noise` reaches the head (see `NoisyDense`); heads without noise ignore it."""
        x = obs.astype(jnp.float32)
        if self.obs_center is not None and self.obs_scale is not None:
            center = jnp.asarray(self.obs_center, jnp.float32).reshape(self.obs_shape)
            x = (x - center) / jnp.asarray(self.obs_scale, jnp.float32).reshape(self.obs_shape)
        return self.head(self.torso(x), noise=noise)


def builtin_torso(
    name: str,
    hidden_sizes: Sequence[int],
    activation: str,
    obs_shape: Sequence[int],
    layer_norm: bool = False,
) -> nn.Module:
    """The built-in torso `name`: "mlp", "conv" (needs (H, W, C) observations) or "auto"
    (conv exactly when the observations are rank 3); LayerNorm after each hidden layer
    with `layer_norm`."""
    if name == "conv" and len(obs_shape) != 3:
        raise ValueError(
            f"torso: conv needs image-like (H, W, C) observations, these have shape "
            f"{tuple(obs_shape)}; use torso=mlp or auto"
        )
    if name == "conv" or (name == "auto" and len(obs_shape) == 3):
        return ConvTorso(tuple(hidden_sizes), activation, layer_norm)
    return MLPTorso(tuple(hidden_sizes), activation, len(obs_shape), layer_norm)


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
