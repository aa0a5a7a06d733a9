"""Cost of prioritized replay: the cartpole preset with and without it, equal work.

    python benchmarks/bench_per.py [--seeds 8] [--repeats 5] [--total-timesteps 51000]

Both programs run the same number of env steps and gradient steps (no freezing, so no
seed stops early); the runs alternate (uniform, prioritized, uniform, ...) so that load
from other processes on a shared machine hits both alike. Reports the median run time
of each (compile excluded) and their ratio; writes benchmarks/results/per.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import jax

import purejaxdqn
from purejaxdqn import presets

RESULTS = Path(__file__).parent / "results"


def compiled_run(config, keys):
    return jax.jit(jax.vmap(purejaxdqn.make_train(config))).lower(keys).compile()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--total-timesteps", type=int, default=51_000)
    args = parser.parse_args()
    uniform = presets.cartpole().replace(
        freeze_when_solved=False, total_timesteps=args.total_timesteps
    )
    configs = {"uniform": uniform, "prioritized": uniform.replace(prioritized_replay=True)}
    keys = jax.random.split(jax.random.key(0), args.seeds)
    compiled, compile_s = {}, {}
    for name, config in configs.items():
        start = time.perf_counter()
        compiled[name] = compiled_run(config, keys)
        compile_s[name] = round(time.perf_counter() - start, 2)
        jax.block_until_ready(compiled[name](keys))  # warm
    times: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.repeats):
        for name in configs:
            start = time.perf_counter()
            jax.block_until_ready(compiled[name](keys))
            times[name].append(round(time.perf_counter() - start, 3))
    median = {name: statistics.median(t) for name, t in times.items()}
    ratio = median["prioritized"] / median["uniform"]
    row = {
        "config": "cartpole preset, freeze_when_solved=False",
        "seeds": args.seeds,
        "env_steps_per_seed": args.total_timesteps,
        "gradient_steps_per_seed": uniform.num_gradient_steps,
        "compile_s": compile_s,
        "run_s": times,
        "median_run_s": median,
        "ratio": round(ratio, 3),
        "device": jax.devices()[0].device_kind,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(json.dumps(row, indent=2))
    print(
        f"\n| replay | median run s ({args.seeds} seeds x {args.total_timesteps:,} steps) |\n"
        f"|---|---|\n| uniform | {median['uniform']:.2f} |\n"
        f"| prioritized | {median['prioritized']:.2f} |\n| ratio | {ratio:.2f}x |"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "per.json").write_text(json.dumps(row, indent=2) + "\n")


if __name__ == "__main__":
    main()
