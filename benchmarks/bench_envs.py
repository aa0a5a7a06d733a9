"""Final greedy return and wall time of each classic-control preset, 8 seeds at once.

    python benchmarks/bench_envs.py                       # CartPole, Acrobot, MountainCar
    python benchmarks/bench_envs.py --env Acrobot-v1 --set n_step=3   # one env, overrides
    python benchmarks/bench_envs.py --breakout            # Breakout-MinAtar vs random policy

For each env: its preset (`purejaxdqn.presets.for_env`), `--seeds` seeds vmapped in one
compiled program. Reports the median and interquartile mean over seeds of the final
greedy return (each seed's mean over the preset's `eval_episodes` fresh episodes after
training), env steps per seed, compile time and wall time (compile + run). Prints a
markdown table and writes benchmarks/results/envs.json (or breakout.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np
from machine import machine  # benchmarks/machine.py

import purejaxdqn
from purejaxdqn import cli, presets
from purejaxdqn.core.evaluation import make_random_returns
from purejaxdqn.run.sweep import interquartile_mean

RESULTS = Path(__file__).parent / "results"
ENVS = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0")
# CleanRL's dqn_jax.py, 3 seeds at 500k env steps (docs.cleanrl.dev, DQN, classic control).
REFERENCE = {
    "CartPole-v1": "498.4 +/- 2.3",
    "Acrobot-v1": "-88.9 +/- 1.6",
    "MountainCar-v0": "-188.9 +/- 11.8",
}


def run_preset(config: purejaxdqn.DQNConfig, num_seeds: int, seed: int) -> dict:
    train = jax.vmap(purejaxdqn.make_train(config))
    keys = jax.random.split(jax.random.key(seed), num_seeds)
    start = time.perf_counter()
    compiled = jax.jit(train).lower(keys).compile()
    compile_s = time.perf_counter() - start
    result = jax.block_until_ready(compiled(keys))
    wall_s = time.perf_counter() - start
    final = np.asarray(result.final_eval_returns).mean(-1)  # (seeds,)
    curves = np.asarray(result.metrics.eval_return_mean)  # (seeds, periods)
    return {
        "env_id": config.env_id,
        "seeds": num_seeds,
        "env_steps_per_seed": int(np.max(np.asarray(result.state.progress.env_step))),
        "compile_s": round(compile_s, 1),
        "wall_s": round(wall_s, 1),
        "median": round(float(np.median(final)), 1),
        "iqm": round(interquartile_mean(final), 1),
        "final_eval_return": [round(float(f), 1) for f in final],
        "eval_curve_median": [round(float(c), 1) for c in np.median(curves, axis=0)],
        "config": config.to_dict(),
    }


def random_policy_return(config: purejaxdqn.DQNConfig, episodes: int, seed: int) -> float:
    env, env_params = purejaxdqn.core.envs.make_env(config.env_id)
    num_actions = purejaxdqn.core.envs.num_discrete_actions(env, env_params)
    returns = jax.jit(make_random_returns(env, env_params, num_actions, episodes))(
        jax.random.key(seed)
    )
    return float(np.mean(np.asarray(returns)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", help="env id (repeatable); default: all three")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--breakout", action="store_true", help="Breakout-MinAtar vs random")
    parser.add_argument("--no-save", action="store_true", help="print only (for tuning)")
    args = parser.parse_args()
    purejaxdqn.enable_compilation_cache()
    changes = cli.parse_set(args.set)
    env_ids = ["Breakout-MinAtar"] if args.breakout else (args.env or list(ENVS))
    rows = []
    for env_id in env_ids:
        config = presets.for_env(env_id)[1]
        config = config.replace(**changes) if changes else config
        row = run_preset(config, args.seeds, args.seed)
        if args.breakout:
            row["random_policy_return"] = round(
                random_policy_return(config, 1_000, args.seed + 1), 3
            )
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "config"}), flush=True)
    print(f"\n{args.seeds} seeds, {machine()}\n")
    print("| env | env steps/seed | median | IQM | wall s (compile) | reference (500k steps) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ref = REFERENCE.get(r["env_id"], f"random policy {r.get('random_policy_return')}")
        print(
            f"| {r['env_id']} | {r['env_steps_per_seed']:,} | {r['median']} | {r['iqm']} | "
            f"{r['wall_s']} ({r['compile_s']}) | {ref} |"
        )
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        name = "breakout.json" if args.breakout else "envs.json"
        out = {"machine": machine(), "command": " ".join(sys.argv), "rows": rows}
        (RESULTS / name).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
