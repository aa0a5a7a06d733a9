"""Throughput against the number of seeds, sharded over every local device (issue 4).

    python benchmarks/bench_scale.py                    # CPU: 1 to 64 seeds, ~5 min on 2 cores
    python benchmarks/bench_scale.py --seeds 1,16,256,1024,4096 --solve-seeds 1024   # a GPU

For each seed count: compile time, run time and env steps per second *with learning*
(the `cartpole` preset at fixed work, no freezing, 50k env steps per seed), beside the
gymnax CartPole-v1 step rate alone (uniform random actions, the same number of parallel
envs, in one jitted scan: the ceiling), and the bytes per stored transition. With
`--solve-seeds N`: N seeds of the `cartpole` preset to the end (freezing solved seeds),
compile included. Writes benchmarks/results/scale-<platform>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from machine import machine  # benchmarks/machine.py

import purejaxdqn
from purejaxdqn.core import envs
from purejaxdqn.run import memory
from purejaxdqn.run.runner import ChunkedRun

RESULTS = Path(__file__).parent / "results"


def timed_runner(config, num_seeds: int, repeats: int) -> dict:
    runner = ChunkedRun(config, num_seeds, seed=0, chunks=1)
    compile_s = runner.compile()
    runs, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        # The replay buffers stay on the devices: results and small fields come back.
        result = runner.finish(runner.run(runner.init()), keep_state=False)
        runs.append(time.perf_counter() - start)
    run_s = statistics.median(runs)
    steps = int(np.sum(result.state.progress.env_step))
    plan = memory.plan(runner.template, config.buffer_size, runner.num_runs, num_seeds)
    final = np.asarray(result.final_eval_returns).mean(-1)
    return {
        "seeds": num_seeds,
        "compile_s": round(compile_s, 2),
        "run_s": round(run_s, 3),
        "env_steps": steps,
        "env_steps_per_s": round(steps / run_s),
        "bytes_per_transition": round(plan["bytes_per_transition"], 1),
        "state_bytes": plan["state_bytes"],
        "solved": int((final >= 475).sum()),
    }


def env_only_steps_per_s(num_envs: int, steps: int, repeats: int) -> float:
    """gymnax CartPole-v1 stepping alone: uniform random actions, `num_envs` in parallel."""
    env, env_params = envs.make_env("CartPole-v1")

    def run(key):
        obs, state = envs.vmapped_reset(env, env_params, jax.random.split(key, num_envs))

        def step(carry, key):
            state, total = carry
            k_act, k_step = jax.random.split(key)
            action = jax.random.randint(k_act, (num_envs,), 0, 2)
            keys = jax.random.split(k_step, num_envs)
            _, state, reward, *_ = envs.vmapped_step(env, env_params, keys, state, action)
            return (state, total + reward.sum()), None

        (state, total), _ = jax.lax.scan(step, (state, 0.0), jax.random.split(key, steps))
        return total

    compiled = jax.jit(run).lower(jax.random.key(0)).compile()
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(jax.random.key(i)))
        times.append(time.perf_counter() - start)
    return num_envs * steps / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="1,2,4,8,16,32,64", help="comma-separated counts")
    parser.add_argument("--timesteps", type=int, default=50_000, help="env steps per seed")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (median)")
    parser.add_argument("--solve-seeds", type=int, default=0, help="also time N seeds to solve")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="folder for scale-<platform>.json"
    )
    args = parser.parse_args()
    # Cold compiles: a fresh persistent cache (every seed count is another program).
    purejaxdqn.enable_compilation_cache(tempfile.mkdtemp(prefix="purejaxdqn-bench-"))
    info = machine()
    print(f"machine: {info}")
    config = purejaxdqn.presets.cartpole().replace(
        freeze_when_solved=False, total_timesteps=args.timesteps
    )
    command = "python benchmarks/bench_scale.py " + " ".join(sys.argv[1:])
    data = {"machine": info, "command": command, "config": config.to_dict(), "rows": []}
    path = args.out / f"scale-{info['platform']}.json"
    args.out.mkdir(parents=True, exist_ok=True)
    rows = data["rows"]
    for n in (int(s) for s in args.seeds.split(",")):
        row = timed_runner(config, n, args.repeats)
        row["env_only_steps_per_s"] = round(
            env_only_steps_per_s(n * config.num_envs, args.timesteps // config.num_envs, 3)
        )
        rows.append(row)
        print(row, flush=True)
        path.write_text(json.dumps(data, indent=2) + "\n")  # each row kept as it comes
    print(f"\n### Seeds on {info['devices']} x {info['device']} ({info['platform']})\n")
    print("| seeds | compile s | run s | env steps/s with learning | env only | bytes/transition |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['seeds']} | {r['compile_s']} | {r['run_s']} | {r['env_steps_per_s']:,} | "
            f"{r['env_only_steps_per_s']:,} | {r['bytes_per_transition']} |"
        )
    if args.solve_seeds:
        preset = purejaxdqn.presets.cartpole()
        start = time.perf_counter()
        runner = ChunkedRun(preset, args.solve_seeds, seed=0, chunks=1)
        compile_s = runner.compile()
        result = runner.finish(runner.run(runner.init()), keep_state=False)
        total = time.perf_counter() - start
        final = np.asarray(result.final_eval_returns).mean(-1)
        data["solve"] = {
            "seeds": args.solve_seeds,
            "compile_s": round(compile_s, 2),
            "total_s": round(total, 2),
            "solved": int((final >= 475).sum()),
            "env_steps": int(np.sum(result.state.progress.env_step)),
        }
        print(f"\n{args.solve_seeds} seeds of the cartpole preset: {data['solve']}")
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    jnp.zeros(())  # start the backend before timing anything
    main()
