"""A greedy policy usable outside JAX: numpy observation in, int action out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from purejaxdqn.agents import make_agent
from purejaxdqn.config import DQNConfig
from purejaxdqn.core import envs
from purejaxdqn.train import TrainResult


def greedy_policy(
    result: TrainResult,
    seed_index: int = 0,
    env: Any = None,
    env_params: Any = None,
    network: nn.Module | None = None,
) -> Callable[[np.ndarray], int]:
    """`obs -> argmax_a Q(obs, a)` for one seed of a (possibly vmapped) `TrainResult`.

    `env`/`env_params` are needed only for an environment not built from `config.env_id`;
    `network` (the torso) defaults to the one the result was trained with.
    """
    batched = np.ndim(result.final_eval_returns) == 2  # (seeds, eval_episodes)
    params = select_seed(result.params, seed_index, batched)
    torso = result.network if network is None else network
    return policy_from_params(result.config, params, env, env_params, torso)


def load_policy(
    run_dir: str | Path, seed_index: int = 0, network: nn.Module | None = None
) -> Callable[[np.ndarray], int]:
    """The greedy policy of one seed of a saved run: `purejaxdqn train`'s run directory,
    or a folder written by `purejaxdqn export` (`seed_index` then counts its seeds).

    A custom torso is rebuilt from the run's record; `network` passes it where it cannot
    be (a class defined in a notebook)."""
    from purejaxdqn.run import export

    config, params, torso = export.load_params(Path(run_dir), network)
    return policy_from_params(
        config, select_seed(params, seed_index, batched=True), None, None, torso
    )


def select_seed(params: Any, seed_index: int, batched: bool) -> Any:
    if not batched:
        if seed_index != 0:
            raise ValueError(f"seed_index: this result holds one seed, got seed_index={seed_index}")
        return params
    num_seeds = jax.tree.leaves(params)[0].shape[0]
    if not 0 <= seed_index < num_seeds:
        raise ValueError(f"seed_index: must be in [0, {num_seeds}), got {seed_index}")
    return jax.tree.map(lambda x: x[seed_index], params)


def policy_from_params(
    config: DQNConfig,
    params: Any,
    env: Any = None,
    env_params: Any = None,
    network: nn.Module | None = None,
) -> Callable[[np.ndarray], int]:
    """Greedy policy of one seed's Q-network parameters (`network`: its torso, if custom)."""
    env, env_params = envs.resolve(config.env_id, env, env_params)
    obs_shape = tuple(env.observation_space(env_params).shape)
    params = jax.device_get(params)
    q = make_agent(config, env, env_params, network).q_values

    @jax.jit
    def q_values(obs: jax.Array) -> jax.Array:
        return q(params, obs)

    def policy(obs: np.ndarray) -> int:
        obs = np.asarray(obs, dtype=np.float32)
        if obs.shape != obs_shape:
            raise ValueError(f"obs: expected shape {obs_shape}, got {obs.shape}")
        return int(jnp.argmax(q_values(obs)))

    return policy
