"""Watching a trained agent: one greedy episode in gymnax, rendered to a GIF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from purejaxdqn.agents import make_agent
from purejaxdqn.config import DQNConfig
from purejaxdqn.core import envs


def greedy_episode(
    config: DQNConfig,
    env: Any,
    env_params: Any,
    params: Any,
    key: jax.Array,
    max_steps: int,
    network: Any = None,
) -> tuple[list[Any], float]:
    """Plays one greedy episode; returns the env states (first to last) and the return.
    `network`: the run's torso, if custom."""
    q = make_agent(config, env, env_params, network).q_values
    max_steps = min(max_steps, envs.max_episode_steps(env_params))

    @jax.jit
    def rollout(key):
        key, k_reset = jax.random.split(key)
        obs, state = env.reset(k_reset, env_params)

        def step(carry, key):
            obs, state, alive = carry
            action = jnp.argmax(q(params, obs))
            obs, next_state, reward, terminated, truncated, info = env.step(
                key, state, action, env_params
            )
            return (obs, next_state, alive & ~(terminated | truncated)), (state, reward, alive)

        _, (states, rewards, alive) = jax.lax.scan(
            step, (obs, state, jnp.bool_(True)), jax.random.split(key, max_steps)
        )
        return states, rewards, alive

    states, rewards, alive = jax.device_get(rollout(key))
    length = int(np.sum(alive))  # steps taken before the episode ended
    seq = [jax.tree.map(lambda x, i=i: x[i], states) for i in range(length)]
    return seq, float(np.sum(rewards * alive))


def render_gif(env: Any, env_params: Any, states: list[Any], out: Path, show: bool = False) -> None:
    """Renders the states with gymnax's own visualizer (matplotlib + Pillow)."""
    import os

    import matplotlib

    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # pygame renders; no sound card needed
    if not show:
        matplotlib.use("Agg")
    from gymnax.visualize import Visualizer

    out.parent.mkdir(parents=True, exist_ok=True)
    Visualizer(env, env_params, states).animate(str(out), view=show)
