"""A greedy policy usable outside JAX: numpy observation in, int action out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from purejaxdqn import envs
from purejaxdqn.networks import make_q_network
from purejaxdqn.train import TrainResult


def greedy_policy(
    result: TrainResult, seed_index: int = 0, env: Any = None, env_params: Any = None
) -> Callable[[np.ndarray], int]:
    """`obs -> argmax_a Q(obs, a)` for one seed of a (possibly vmapped) `TrainResult`.

    `env`/`env_params` are needed only for an environment not built from `config.env_id`.
    """
    config = result.config
    env, env_params = envs.resolve(config.env_id, env, env_params)
    obs_shape = tuple(env.observation_space(env_params).shape)
    network = make_q_network(
        envs.num_discrete_actions(env, env_params),
        config.hidden_sizes,
        config.activation,
        obs_shape,
    )
    params = result.params
    batched = np.ndim(result.final_eval_returns) == 2  # (seeds, eval_episodes)
    if batched:
        num_seeds = np.shape(result.final_eval_returns)[0]
        if not 0 <= seed_index < num_seeds:
            raise ValueError(f"seed_index: must be in [0, {num_seeds}), got {seed_index}")
        params = jax.tree.map(lambda x: x[seed_index], params)
    elif seed_index != 0:
        raise ValueError(f"seed_index: this result holds one seed, got seed_index={seed_index}")
    params = jax.device_get(params)

    @jax.jit
    def q_values(obs: jax.Array) -> jax.Array:
        return network.apply(params, obs)

    def policy(obs: np.ndarray) -> int:
        obs = np.asarray(obs, dtype=np.float32)
        if obs.shape != obs_shape:
            raise ValueError(f"obs: expected shape {obs_shape}, got {obs.shape}")
        return int(jnp.argmax(q_values(obs)))

    return policy
