"""Throughput and time-to-solve of purejaxdqn's trainer.

    bash benchmarks/setup_keras_venv.sh         # once: the notebook's Keras loop, for comparison
    python benchmarks/bench_train.py            # all parts, ~3 minutes on the 2-core CPU
    python benchmarks/bench_train.py --part solve

Prints a markdown table per part and writes benchmarks/results/<part>.json.
Times: compile = trace + XLA compile (`jit(...).lower(...).compile()`); run = the
compiled call to `block_until_ready`, median of --repeats; env steps/s = env steps summed
over seeds (learning included) / run time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from machine import machine  # benchmarks/machine.py

import purejaxdqn

RESULTS = Path(__file__).parent / "results"


def timed_train(config, num_seeds: int, repeats: int, seed: int = 0) -> dict:
    train = jax.vmap(purejaxdqn.make_train(config))
    keys = jax.random.split(jax.random.key(seed), num_seeds)
    start = time.perf_counter()
    compiled = jax.jit(train).lower(keys).compile()
    compile_s = time.perf_counter() - start
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = jax.block_until_ready(compiled(keys))
        runs.append(time.perf_counter() - start)
    run_s = statistics.median(runs)
    steps = int(np.asarray(result.metrics.env_step)[..., -1].sum())
    final = np.asarray(result.final_eval_returns).mean(-1)
    return {
        "seeds": num_seeds,
        "compile_s": round(compile_s, 2),
        "run_s": round(run_s, 3),
        "run_s_all": [round(r, 3) for r in runs],
        "env_steps": steps,
        "env_steps_per_s": round(steps / run_s),
        "solved": int((final >= 475).sum()),
        "final_eval_return": [round(float(f), 1) for f in final],
        "summaries": purejaxdqn.seed_summaries(result),
    }


def part_throughput(args) -> dict:
    """cartpole preset at fixed work (no freezing): 1, 8, 32 seeds, measured as
    `purejaxdqn bench` measures (purejaxdqn/run/bench.py)."""
    from purejaxdqn.run import bench

    config = bench.fixed_work(purejaxdqn.presets.cartpole(), 50_000)
    rows = [bench.learning_row(config, n, args.repeats) for n in (1, 8, 32)]
    print("\n### Throughput, cartpole preset, 50k env steps per seed with warm-up, no freezing\n")
    print("| seeds | compile s | run s (median) | env steps/s | vs 1 seed |")
    print("|---|---|---|---|---|")
    for r in rows:
        ratio = r["env_steps_per_s"] / rows[0]["env_steps_per_s"]
        print(
            f"| {r['seeds']} | {r['compile_s']} | {r['run_s']} | "
            f"{r['env_steps_per_s']:,} | {ratio:.2f}x |"
        )
    return {"config": config.to_dict(), "rows": rows}


def part_solve(args) -> dict:
    """cartpole preset, 8 seeds, freezing solved seeds: wall time to the final result."""
    config = purejaxdqn.presets.cartpole()
    rows = []
    for seed in range(args.solve_repeats):
        r = timed_train(config, 8, 1, seed=seed)
        r["total_s"] = round(r["compile_s"] + r["run_s"], 2)
        r["solve_env_step"] = [s["solve_env_step"] for s in r.pop("summaries")]
        rows.append(r)
    print(
        "\n### Time to solve CartPole-v1, cartpole preset, 8 seeds "
        "(final greedy eval >= 475 over 100 fresh episodes)\n"
    )
    print("| key | compile s | run s | compile + run s | solved | env steps at solve (per seed) |")
    print("|---|---|---|---|---|---|")
    for seed, r in enumerate(rows):
        print(
            f"| {seed} | {r['compile_s']} | {r['run_s']} | {r['total_s']} | "
            f"{r['solved']}/8 | {r['solve_env_step']} |"
        )
    totals = [r["total_s"] for r in rows]
    print(f"\nmedian compile + run: {statistics.median(totals):.2f} s")
    return {"config": config.to_dict(), "rows": rows}


def keras_notebook_steps_per_s(python: str, steps: int) -> float | None:
    """The notebook's own Keras loop, in its own venv (benchmarks/setup_keras_venv.sh)."""
    if not Path(python).exists():
        print(f"(no Keras venv at {python}: run benchmarks/setup_keras_venv.sh)")
        return None
    proc = subprocess.run(
        [python, str(Path(__file__).parent / "keras_notebook.py"), "--steps", str(steps)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["env_steps_per_s"])


def part_notebook(args) -> dict:
    """notebook preset (1 env, 1 update per env step), fixed work, 1 and 32 seeds, beside
    the notebook's own Keras loop measured in the same run."""
    keras = keras_notebook_steps_per_s(args.keras_python, args.keras_steps)
    config = purejaxdqn.presets.notebook().replace(total_timesteps=20_000)
    rows = [timed_train(config, n, args.repeats) for n in (1, 32)]
    print("\n### notebook preset, 20k env steps per seed, and the Keras loop\n")
    if keras is not None:
        print(f"Keras notebook loop ({args.keras_steps} training steps): {keras:.1f} env steps/s\n")
    print("| seeds | compile s | run s | env steps/s | / Keras loop |")
    print("|---|---|---|---|---|")
    for r in rows:
        r.pop("summaries")
        ratio = f"{r['env_steps_per_s'] / keras:,.0f}x" if keras else "n/a"
        print(
            f"| {r['seeds']} | {r['compile_s']} | {r['run_s']} | "
            f"{r['env_steps_per_s']:,} | {ratio} |"
        )
    return {"config": config.to_dict(), "rows": rows, "keras_env_steps_per_s": keras}


# One launch, in a fresh process: the 8-seed cartpole program through the Python API
# (`jit(...).lower(...).compile()`), or the programs of `purejaxdqn train` (ChunkedRun:
# from constructing the runner to its three programs compiled), both with JAX's
# persistent cache. Prints the seconds.
_CACHE_CHILD = {
    "jit": """
import time, jax, purejaxdqn
purejaxdqn.enable_compilation_cache({cache!r})
cfg = purejaxdqn.presets.cartpole()
keys = jax.random.split(jax.random.key(0), 8)
t = time.perf_counter()
jax.jit(jax.vmap(purejaxdqn.make_train(cfg))).lower(keys).compile()
print(time.perf_counter() - t)
""",
    "train": """
import time, purejaxdqn
from purejaxdqn.run.runner import ChunkedRun
purejaxdqn.enable_compilation_cache({cache!r})
t = time.perf_counter()
ChunkedRun(purejaxdqn.presets.cartpole(), 8).compile()
print(time.perf_counter() - t)
""",
}


def part_cache(args) -> dict:
    """Compile time of a first and two more launches (fresh processes, one cache folder
    per route), through the Python API and through `purejaxdqn train`'s runner."""
    out = {}
    for route, child in _CACHE_CHILD.items():
        with tempfile.TemporaryDirectory() as cache:
            code = child.format(cache=cache)
            out[route] = [
                [
                    float(x)
                    for x in subprocess.run(
                        [sys.executable, "-c", code], capture_output=True, text=True, check=True
                    ).stdout.split()[-1:]
                ]
                for _ in range(3)
            ]
    print("\n### Compile on a first and a later launch, cartpole preset x 8 seeds\n")
    print(
        "| launch | `jit(...).lower().compile()` s (JAX's cache) "
        "| `purejaxdqn train`'s programs s (JAX's cache) |"
    )
    print("|---|---|---|")
    for i in range(3):
        name = "first (cold caches)" if i == 0 else f"launch {i + 1} (warm)"
        print(f"| {name} | {out['jit'][i][0]:.2f} | {out['train'][i][0]:.2f} |")
    return {
        "compile_s": [r[0] for r in out["jit"]],
        "train_programs_s": [r[0] for r in out["train"]],
    }


PARTS = {
    "throughput": part_throughput,
    "solve": part_solve,
    "notebook": part_notebook,
    "cache": part_cache,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=sorted(PARTS), action="append")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (median)")
    parser.add_argument("--solve-repeats", type=int, default=3, help="keys for the solve part")
    parser.add_argument(
        "--keras-python",
        default=str(Path(__file__).parent / ".venv-keras/bin/python"),
        help="python of the Keras venv (benchmarks/setup_keras_venv.sh)",
    )
    parser.add_argument("--keras-steps", type=int, default=300, help="timed Keras training steps")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    info = machine()
    print(f"machine: {info}")
    for name in args.part or list(PARTS):
        data = PARTS[name](args)
        data["machine"] = info
        data["command"] = "python benchmarks/bench_train.py --part " + name
        (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
