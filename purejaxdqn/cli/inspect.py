"""`purejaxdqn inspect ENV_ID`: an environment's spaces, what each observation entry is,
and a random policy's return (the notebook's first section)."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from purejaxdqn.cli.common import FORMATTER, UsageError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "inspect",
        help="an environment's spaces and a random policy's return",
        formatter_class=FORMATTER,
    )
    p.add_argument("env_id", help="gymnax environment id, e.g. CartPole-v1")
    p.add_argument("--episodes", type=int, default=100, help="random-policy episodes")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    import jax

    from purejaxdqn.core import envs
    from purejaxdqn.core.evaluation import make_random_returns

    if args.episodes < 1:
        raise UsageError(f"--episodes: must be >= 1, got {args.episodes}")
    env, env_params = envs.make_env(args.env_id)
    action_space = env.action_space(env_params)
    obs_space = env.observation_space(env_params)
    print(f"{args.env_id}")
    print(f"action space: {_space_str(action_space)}")
    print(f"observation space: {_space_str(obs_space)}")
    for i, name in enumerate(envs.observation_names(env, env_params)):
        low, high = np.ravel(obs_space.low)[i], np.ravel(obs_space.high)[i]
        print(f"  obs[{i}] {name}: [{low:.3g}, {high:.3g}]")
    try:
        num_actions = envs.num_discrete_actions(env, env_params)
    except ValueError as error:
        print(f"random policy: not evaluated ({error})")
        return 0
    random_returns = make_random_returns(env, env_params, num_actions, args.episodes)
    returns = np.asarray(jax.jit(random_returns)(jax.random.key(args.seed)))
    print(
        f"random policy over {args.episodes} episodes: mean return {returns.mean():.2f} "
        f"(std {returns.std():.2f}, min {returns.min():.0f}, max {returns.max():.0f})"
    )
    return 0


def _space_str(space: Any) -> str:
    name = type(space).__name__
    if hasattr(space, "n"):
        return f"{name}({int(space.n)})"
    return f"{name}(shape={tuple(space.shape)}, dtype={np.dtype(space.dtype).name})"
