"""gymnax environments: creation, checks, and vmapped reset/step."""

from __future__ import annotations

from typing import Any

import gymnax
import jax
import numpy as np
from gymnax.environments import spaces
from gymnax.environments.environment import Environment

# gymnax ids whose action space is not Discrete (checked by tests against gymnax itself),
# so that a config refuses them without making the env.
CONTINUOUS_ACTION_ENVS = (
    "Pendulum-v1",
    "MountainCarContinuous-v0",
    "PointRobot-misc",
    "Reacher-misc",
    "Swimmer-misc",
)


def check_env_id(env_id: str) -> None:
    """A one-line error for an id gymnax does not know or one with continuous actions."""
    if env_id not in gymnax.registered_envs:
        raise ValueError(
            f"env_id: unknown environment {env_id!r}; choose a gymnax id such as "
            f"CartPole-v1, Acrobot-v1, MountainCar-v0 (all: gymnax.registered_envs), "
            f"or register yours with gymnax.register"
        )
    if env_id in CONTINUOUS_ACTION_ENVS:
        raise ValueError(_not_discrete(f"env_id: {env_id}", "continuous"))


def _not_discrete(what: str, kind: str) -> str:
    return (
        f"{what} has a {kind} action space; purejaxdqn trains discrete-action envs, "
        f"e.g. CartPole-v1, Acrobot-v1, MountainCar-v0, Breakout-MinAtar"
    )


def make_env(env_id: str) -> tuple[Any, Any]:
    """`gymnax.make(env_id)`, after `check_env_id`."""
    check_env_id(env_id)
    return gymnax.make(env_id)


def resolve(env_id: str, env: Any = None, env_params: Any = None) -> tuple[Any, Any]:
    """The env to train on: `env` if given (any gymnax Environment), else `gymnax.make(env_id)`;
    `env_params` default to the env's own."""
    if env is None:
        env, default_params = make_env(env_id)
    else:
        default_params = env.default_params
    return env, default_params if env_params is None else env_params


def num_discrete_actions(env: Any, env_params: Any) -> int:
    """Number of actions of a discrete-action env; a clear error for any other."""
    space = env.action_space(env_params)
    if not isinstance(space, spaces.Discrete):
        kind = "continuous" if isinstance(space, spaces.Box) else type(space).__name__
        raise ValueError(_not_discrete(f"env: {env.name}", kind))
    return int(space.n)


def max_episode_steps(env_params: Any) -> int:
    steps = getattr(env_params, "max_steps_in_episode", None)
    if steps is None:
        raise ValueError("env_params: needs max_steps_in_episode to bound greedy evaluations")
    return int(steps)


def vmapped_reset(env: Any, env_params: Any, keys: jax.Array) -> tuple[jax.Array, Any]:
    """Resets one env per key in `keys` (n,): obs (n, *obs_shape), states with leading (n,)."""
    return jax.vmap(env.reset, in_axes=(0, None))(keys, env_params)


def vmapped_step(
    env: Any, env_params: Any, keys: jax.Array, state: Any, action: jax.Array
) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array, dict[str, Any]]:
    """Steps `n` envs with auto-reset, env i with keys[i] (keys: (n,)).

    Returns gymnax 1.x's (obs, state, reward, terminated, truncated, info), each batched.
    """
    return jax.vmap(env.step, in_axes=(0, 0, 0, None))(keys, state, action, env_params)


def vmapped_step_no_reset(
    env: Any, env_params: Any, keys: jax.Array, state: Any, action: jax.Array
) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array]:
    """Steps `n` envs like `vmapped_step` but leaves ended episodes ended (no auto-reset).

    For rollouts that stop at the end of each episode (greedy evaluations): where the
    env keeps gymnax's own `step`, only `step_env` runs, with the key `step` would give
    it, so the trajectory is the same as `vmapped_step`'s until an episode ends (the
    reset that `step` computes, and XLA compiles, is never used there). An env that
    overrides `step` (a wrapper, say) steps through its `step`, as before.

    Returns (obs, state, reward, terminated, truncated), each batched.
    """
    if getattr(type(env), "step", None) is not Environment.step:
        obs, state, reward, terminated, truncated, _ = vmapped_step(
            env, env_params, keys, state, action
        )
        return obs, state, reward, terminated, truncated

    def step(key: jax.Array, state: Any, action: jax.Array):
        key_step, _ = jax.random.split(key)  # gymnax's `step` splits off the reset key
        obs, state, reward, terminated, _ = env.step_env(key_step, state, action, env_params)
        return obs, state, reward, terminated, env.is_truncated(state, env_params)

    return jax.vmap(step)(keys, state, action)


def observation_names(env: Any, env_params: Any) -> list[str]:
    """Names of a flat observation's entries where gymnax gives them (its state fields in
    order, as for CartPole-v1's x, x_dot, theta, theta_dot); else generic names."""
    shape = tuple(env.observation_space(env_params).shape)
    size = int(np.prod(shape)) if shape else 1
    try:
        state_space = env.state_space(env_params)
    except (NotImplementedError, AttributeError, TypeError):
        state_space = None
    if isinstance(state_space, spaces.Dict) and len(shape) == 1:
        names = [k for k in state_space.spaces if k != "time"]
        if len(names) == size:
            return names
    return [f"entry {i}" for i in range(size)] if size <= 32 else []
