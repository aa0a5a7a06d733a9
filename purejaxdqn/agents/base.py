"""`Agent`: what an algorithm gives the trainer, and the network plumbing they share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax

from purejaxdqn.core.networks import set_noise_scale


class Agent(NamedTuple):
    """An algorithm on a torso: its network, how it starts, its greedy Q-values and loss.

    network: a flax module, obs `[..., *obs_shape]` -> the head's outputs.
    init: (key, obs, hyperparams) -> the network's variables.
    q_values: (params, obs `[..., *obs_shape]`, key=None) -> Q-values `[..., num_actions]`,
        for acting and greedy evaluation; with noisy nets a key draws noise per row (per
        env), and none gives the mean weights.
    loss: (params, target_params, batch, hyperparams, weights (B,), key) ->
        (scalar loss to minimise, per-transition errors (B,) >= 0 for replay priorities);
        `key` draws a noisy net's noise (one draw for the online, one for the target).
    """

    network: nn.Module
    init: Callable[..., Any]
    q_values: Callable[..., jax.Array]
    loss: Callable[..., tuple[jax.Array, jax.Array]]


def make_init(network: nn.Module, noisy: bool) -> Callable[..., Any]:
    """flax's own init; with noisy layers their sigmas set from hp.noisy_sigma0."""

    def init(key: jax.Array, obs: jax.Array, hp: Any) -> Any:
        params = network.init(key, obs)
        return set_noise_scale(params, hp.noisy_sigma0) if noisy else params

    return init


def make_outputs(network: nn.Module, noisy: bool) -> Callable[..., jax.Array]:
    """`outputs(params, obs, key=None, shared=False)`: the network's outputs; with noisy
    layers and a key, noisy ones (one draw per row, or `shared` by the whole batch)."""

    def outputs(params: Any, obs: jax.Array, key: Any = None, shared: bool = False):
        if key is None or not noisy:
            return network.apply(params, obs)
        mode = "shared" if shared else "per_row"
        return network.apply(params, obs, noise=mode, rngs={"noise": key})

    return outputs
