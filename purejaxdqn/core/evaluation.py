"""Greedy (epsilon = 0) evaluation on fresh episodes, inside the compiled program."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from purejaxdqn.core import envs


def make_evaluate(
    env: Any, env_params: Any, q_values: Callable, num_episodes: int
) -> Callable[[jax.Array, Any], jax.Array]:
    """Returns `evaluate(key, params) -> returns (num_episodes,)` of the greedy policy.

    `q_values(params, obs (n, *obs_shape)) -> (n, num_actions)`. Runs `num_episodes` fresh
    episodes in parallel until each has ended (terminated or truncated) once; stops as
    soon as all have.
    """

    def greedy(params: Any, key: jax.Array, obs: jax.Array) -> jax.Array:
        del key
        return jnp.argmax(q_values(params, obs), axis=-1)

    return make_rollout_returns(env, env_params, greedy, num_episodes)


def make_random_returns(
    env: Any, env_params: Any, num_actions: int, num_episodes: int
) -> Callable[[jax.Array], jax.Array]:
    """Returns `random_returns(key) -> (num_episodes,)`: a uniformly random policy's returns."""

    def uniform(params: Any, key: jax.Array, obs: jax.Array) -> jax.Array:
        del params
        return jax.random.randint(key, (obs.shape[0],), 0, num_actions)

    rollout = make_rollout_returns(env, env_params, uniform, num_episodes)
    return lambda key: rollout(key, None)


def make_rollout_returns(
    env: Any, env_params: Any, act: Callable, num_episodes: int
) -> Callable[[jax.Array, Any], jax.Array]:
    """`act(params, key, obs (n, ...)) -> actions (n,)`; returns one episode's return per env."""
    max_steps = envs.max_episode_steps(env_params)

    def cond(carry):
        *_, alive, t = carry
        return jnp.any(alive) & (t < max_steps)

    def rollout(key: jax.Array, params: Any) -> jax.Array:
        def body(carry):
            key, obs, state, returns, alive, t = carry
            key, act_key, step_key = jax.random.split(key, 3)
            action = act(params, act_key, obs)  # (num_episodes,)
            # No auto-reset: an ended episode stays ended (its return is final).
            obs, state, reward, terminated, truncated = envs.vmapped_step_no_reset(
                env, env_params, jax.random.split(step_key, num_episodes), state, action
            )
            returns = returns + jnp.where(alive, reward, 0.0)
            alive = alive & ~(terminated | truncated)
            return key, obs, state, returns, alive, t + 1

        key, reset_key = jax.random.split(key)
        obs, state = envs.vmapped_reset(env, env_params, jax.random.split(reset_key, num_episodes))
        init = (
            key,
            obs,
            state,
            jnp.zeros((num_episodes,), jnp.float32),
            jnp.ones((num_episodes,), bool),
            jnp.int32(0),
        )
        return jax.lax.while_loop(cond, body, init)[3]

    return rollout
