"""`Agent`: what an algorithm gives the trainer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax


class Agent(NamedTuple):
    """An algorithm on a torso: its network, greedy Q-values and loss.

    network: a flax module, obs `[..., *obs_shape]` -> the head's outputs; its
        parameters come from `network.init(key, obs)`.
    q_values: (params, obs `[..., *obs_shape]`) -> Q-values `[..., num_actions]`, for
        acting and greedy evaluation.
    loss: (params, target_params, batch, hyperparams, weights (B,)) ->
        (scalar loss to minimise, per-transition errors (B,) >= 0 for replay priorities).
    """

    network: nn.Module
    q_values: Callable[[Any, jax.Array], jax.Array]
    loss: Callable[..., tuple[jax.Array, jax.Array]]
