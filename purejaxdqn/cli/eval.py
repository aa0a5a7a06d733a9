"""`purejaxdqn eval RUN_DIR`: each seed's greedy return, in gymnax or in gymnasium."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from purejaxdqn.cli.common import FORMATTER, UsageError, cache_compiled_programs


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "eval", help="greedy return of each seed of a saved run", formatter_class=FORMATTER
    )
    p.add_argument("run_dir", type=Path, help="a run directory (`purejaxdqn train`) or an export")
    p.add_argument("--episodes", type=int, default=100, help="fresh episodes per seed")
    p.add_argument(
        "--backend",
        choices=("gymnax", "gymnasium"),
        default="gymnax",
        help="gymnax (vmapped, in JAX) or gymnasium's own environment (a Python loop)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the evaluation episodes")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from purejaxdqn.run import export

    if args.episodes < 1:
        raise UsageError(f"--episodes: must be >= 1, got {args.episodes}")
    cfg, params, torso = export.load_params(args.run_dir)
    cache_compiled_programs()
    if args.backend == "gymnax":
        returns = gymnax_returns(cfg, params, torso, args.episodes, args.seed)
    else:
        returns = gymnasium_returns(cfg, params, torso, args.episodes, args.seed)
    rows = [
        {"seed_index": s, "mean": float(r.mean()), "std": float(r.std()), "episodes": len(r)}
        for s, r in enumerate(np.asarray(returns))
    ]
    if args.json:
        print(json.dumps({"env_id": cfg.env_id, "backend": args.backend, "seeds": rows}, indent=2))
    else:
        print(f"{cfg.env_id}, {args.backend}, {args.episodes} greedy episodes per seed")
        print("seed      mean       std")
        for r in rows:
            print(f"{r['seed_index']:>4}  {r['mean']:>8.1f}  {r['std']:>8.1f}")
    return 0


def gymnax_returns(cfg: Any, params: Any, torso: Any, episodes: int, seed: int) -> np.ndarray:
    """(seeds, episodes) greedy returns, every seed's episodes vmapped in one program.

    Keys as a run derives them (`run/runner.py`): one per seed split from `seed`, each
    drawn with the run's `key_impl`, as its evaluations during training were."""
    import jax

    from purejaxdqn.agents import make_agent
    from purejaxdqn.core import envs, prng
    from purejaxdqn.core.evaluation import make_evaluate

    env, env_params = envs.make_env(cfg.env_id)
    q_values = make_agent(cfg, env, env_params, torso).q_values
    evaluate = make_evaluate(env, env_params, q_values, episodes)
    num_seeds = jax.tree.leaves(params)[0].shape[0]

    def evaluate_seed(key: jax.Array, seed_params: Any) -> jax.Array:
        return evaluate(prng.as_run_key(key, cfg.key_impl), seed_params)

    @jax.jit
    def evaluate_seeds(seed: jax.Array, params: Any) -> jax.Array:
        keys = jax.random.split(jax.random.key(seed), num_seeds)
        return jax.vmap(evaluate_seed)(keys, params)

    return np.asarray(evaluate_seeds(seed, params))


def gymnasium_returns(cfg: Any, params: Any, torso: Any, episodes: int, seed: int) -> np.ndarray:
    """(seeds, episodes) greedy returns in gymnasium's own environment, a Python loop."""
    import jax

    from purejaxdqn.run.policy import policy_from_params, select_seed

    try:
        import gymnasium
    except ImportError:
        raise UsageError("--backend gymnasium needs the gymnasium package installed") from None
    try:
        gym_env = gymnasium.make(cfg.env_id)
    except Exception:
        raise UsageError(
            f"--backend gymnasium: gymnasium has no {cfg.env_id}; use --backend gymnax"
        ) from None
    num_seeds = jax.tree.leaves(params)[0].shape[0]
    out = np.zeros((num_seeds, episodes))
    for s in range(num_seeds):
        policy = policy_from_params(cfg, select_seed(params, s, batched=True), network=torso)
        for episode in range(episodes):
            obs, _ = gym_env.reset(seed=seed * 100_003 + episode)
            done = False
            while not done:
                obs, reward, terminated, truncated, _ = gym_env.step(policy(obs))
                out[s, episode] += float(reward)
                done = terminated or truncated
    return out
