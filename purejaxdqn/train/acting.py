"""Acting: epsilon-greedy steps of the vectorized envs, and storing what they produce."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from purejaxdqn.config import DQNConfig
from purejaxdqn.core import envs, episode_stats, exploration
from purejaxdqn.replay import n_step
from purejaxdqn.replay.transition import Transition
from purejaxdqn.train.state import ActorState


def epsilon(config: DQNConfig, env_step: jax.Array, hp: Any) -> jax.Array:
    """1 (uniformly random actions) during the warm-up, then the linear decay."""
    decayed = exploration.linear_epsilon(
        (env_step - config.warmup_steps).astype(jnp.float32),
        hp.epsilon_start,
        hp.epsilon_end,
        hp.epsilon_decay_steps,
    )
    return jnp.where(env_step < config.warmup_steps, 1.0, decayed)


def make_act(
    env: Any, env_params: Any, q_values: Callable, action_dtype: Any
) -> Callable[..., tuple[ActorState, Transition, jax.Array, jax.Array]]:
    """Returns `act(key, actor, params, epsilon) -> (actor, transitions, done, q)`: one
    epsilon-greedy step of every env (auto-reset), its transitions (leaves (num_envs, ...),
    `next_obs` gymnax's final observation, not the reset one), done (num_envs,) and the
    Q-values it acted on (num_envs, num_actions). `q_values(params, obs, key)` draws a
    noisy net's noise per env from its key."""

    def act(
        key: jax.Array, actor: ActorState, params: Any, epsilon: jax.Array
    ) -> tuple[ActorState, Transition, jax.Array, jax.Array]:
        # the actions' key, the network's noise, then one per env
        keys = jax.random.split(key, 2 + actor.obs.shape[0])
        q = q_values(params, actor.obs, keys[1])  # (num_envs, num_actions)
        action = exploration.epsilon_greedy(keys[0], q, epsilon)  # (num_envs,)
        obs, env_state, reward, terminated, truncated, info = envs.vmapped_step(
            env, env_params, keys[2:], actor.env_state, action
        )
        transitions = Transition(
            obs=actor.obs,
            action=action.astype(action_dtype),
            reward=reward.astype(jnp.float32),
            next_obs=info["final_observation"],
            terminated=terminated,
        )
        done = terminated | truncated
        stats = episode_stats.update(actor.stats, reward, done)
        return actor.replace(env_state=env_state, obs=obs, stats=stats), transitions, done, q

    return act


def make_store(config: DQNConfig, buffer: Any) -> Callable[..., tuple[Any, ActorState]]:
    """Returns `store(buffer_state, actor, transitions, done, gamma, env_step)`, which adds
    one vectorized step to replay: the transitions themselves, or with n_step > 1 the
    n-step transitions that started n - 1 steps ago (the actor's window; none while it
    first fills, the run's first n - 1 steps). `env_step` counts the steps before this one."""

    def store(
        buffer_state: Any,
        actor: ActorState,
        transitions: Transition,
        done: jax.Array,
        gamma: jax.Array,
        env_step: jax.Array,
    ) -> tuple[Any, ActorState]:
        if config.n_step == 1:
            return buffer.add(buffer_state, transitions), actor
        window = n_step.push(actor.window, transitions, done)
        filled = env_step >= (config.n_step - 1) * config.num_envs
        buffer_state = buffer.add(buffer_state, n_step.oldest_n_step(window, gamma), filled)
        return buffer_state, actor.replace(window=window)

    return store
