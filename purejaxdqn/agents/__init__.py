"""Algorithms: each module builds an `Agent` (network, init, Q-values, loss) on a torso.

`make_agent(config, env, env_params, torso=None)` is the one place that builds a run's
network: training, evaluation, policies and rendering all call it.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn

from purejaxdqn.agents import c51, dqn, munchausen, pqn, qr_dqn
from purejaxdqn.agents.base import Agent
from purejaxdqn.config import DQNConfig
from purejaxdqn.core import envs
from purejaxdqn.core.networks import builtin_torso, check_torso, observation_scaling

__all__ = ["ALGORITHMS", "Agent", "make_agent"]

# config.algorithm -> the module's `make(config, torso, num_actions, **network) -> Agent`
ALGORITHMS = {
    "dqn": dqn.make,
    "c51": c51.make,
    "qr-dqn": qr_dqn.make,
    "m-dqn": munchausen.make,
    "pqn": pqn.make,
}


def make_agent(
    config: DQNConfig, env: Any, env_params: Any, torso: nn.Module | None = None
) -> Agent:
    """The config's agent for this env: `torso` (any flax module, see
    `core.networks.check_torso`) or the config's built-in one, under the algorithm's head."""
    space = env.observation_space(env_params)
    obs_shape = tuple(space.shape)
    num_actions = envs.num_discrete_actions(env, env_params)
    if torso is None:
        torso = builtin_torso(
            config.torso, config.hidden_sizes, config.activation, obs_shape, config.layer_norm
        )
    check_torso(torso, obs_shape)
    network: dict[str, Any] = {"obs_shape": obs_shape}
    if config.normalize_observations:
        low, high = getattr(space, "low", -float("inf")), getattr(space, "high", float("inf"))
        network.update(observation_scaling(obs_shape, low, high))
    return ALGORITHMS[config.algorithm](config, torso, num_actions, **network)
