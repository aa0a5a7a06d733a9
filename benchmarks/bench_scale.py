"""Throughput against the number of seeds, sharded over every local device (issue 4).

    python benchmarks/bench_scale.py                    # CPU: 1 to 64 seeds, ~5 min on 2 cores
    python benchmarks/bench_scale.py --seeds 1,16,256,1024,4096 --solve-seeds 1024   # a GPU

The measurement is `purejaxdqn bench`'s (purejaxdqn/run/bench.py); this script adds the
sweep of seed counts written to results/ and the solve run. For each seed count: compile
time, run time and env steps per second *with learning*
(the `cartpole` preset at fixed work, no freezing, 50k env steps per seed), beside the
gymnax CartPole-v1 step rate alone (uniform random actions, the same number of parallel
envs, in one jitted scan: the ceiling), and the bytes per stored transition. With
`--solve-seeds N`: N seeds of the `cartpole` preset to the end (freezing solved seeds),
compile included. Writes benchmarks/results/scale-<platform>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from machine import machine  # benchmarks/machine.py

import purejaxdqn
from purejaxdqn.run import bench
from purejaxdqn.run.runner import ChunkedRun

RESULTS = Path(__file__).parent / "results"


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
    config = bench.fixed_work(purejaxdqn.presets.cartpole(), args.timesteps)
    command = "python benchmarks/bench_scale.py " + " ".join(sys.argv[1:])
    data = {"machine": info, "command": command, "config": config.to_dict(), "rows": []}
    path = args.out / f"scale-{info['platform']}.json"
    args.out.mkdir(parents=True, exist_ok=True)
    rows = data["rows"]

    def keep(row: dict) -> None:  # each row kept as it comes
        rows.append(row)
        print(row, flush=True)
        path.write_text(json.dumps(data, indent=2) + "\n")

    seeds = [int(s) for s in args.seeds.split(",")]
    bench.bench(config, seeds, args.timesteps, args.repeats, report=keep)  # `purejaxdqn bench`
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
