"""Cold compile time of two commits, measured interleaved (A, B, A, B, ...).

    python benchmarks/compile_ab.py 25671c8 83cf9ba --repeats 5
    python benchmarks/compile_ab.py HEAD~1 HEAD --seeds 0    # one key, no vmap
    python benchmarks/compile_ab.py HEAD~1 HEAD --run 2 --preset notebook --seeds 1

Each commit's `purejaxdqn/` is exported (`git archive`) to a temporary folder; every
measurement is a fresh Python process with that folder first on `PYTHONPATH` and a new,
empty JAX cache folder, compiling the `cartpole` preset for `--seeds` vmapped seeds (8)
two ways:
- `jit`: `jax.jit(jax.vmap(make_train(cfg))).lower(keys).compile()` with JAX's persistent
  cache on (split into trace, lower and XLA compile); `--seeds 0`: one key and no vmap,
  `jax.jit(make_train(cfg)).lower(key).compile()`;
- `command`: `ChunkedRun(cfg, seeds).compile()`, the three programs `purejaxdqn train`
  runs (skipped with `--seeds 0`).
`--run N` also calls the `jit` route's compiled program N times and reports the median
call (the run time, compile excluded) and the env steps each seed ended at, which shows
whether the two commits train the same bits.
On a shared machine single runs differ by several tenths of a second, so the two commits
alternate and the medians are compared. Prints a markdown table; writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from purejaxdqn import presets

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
import jax, purejaxdqn
assert purejaxdqn.__file__.startswith(sys.argv[1]), purejaxdqn.__file__
purejaxdqn.enable_compilation_cache(sys.argv[2])
cfg = purejaxdqn.presets.get(sys.argv[6])
seeds, calls = int(sys.argv[4]), int(sys.argv[5])
if sys.argv[3] == "jit":
    train = purejaxdqn.make_train(cfg)
    if seeds:
        keys = jax.random.split(jax.random.key(0), seeds)
        jitted = jax.jit(jax.vmap(train))
    else:
        keys, jitted = jax.random.key(0), jax.jit(train)
    t = time.perf_counter(); traced = jitted.trace(keys)
    t1 = time.perf_counter(); lowered = traced.lower()
    t2 = time.perf_counter(); compiled = lowered.compile()
    t3 = time.perf_counter()
    out = {"trace": t1 - t, "lower": t2 - t1, "xla": t3 - t2, "total": t3 - t}
    times = []
    for _ in range(calls):
        t4 = time.perf_counter(); result = jax.block_until_ready(compiled(keys))
        times.append(time.perf_counter() - t4)
    if calls:
        out["run"] = sorted(times)[len(times) // 2]
        out["env_steps"] = jax.numpy.ravel(result.state.env_step).tolist()
else:
    from purejaxdqn.run.runner import ChunkedRun
    t = time.perf_counter()
    ChunkedRun(cfg, seeds).compile()
    out = {"total": time.perf_counter() - t}
print(json.dumps(out))
"""


def export(commit: str, folder: Path) -> Path:
    folder.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "purejaxdqn"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def measure(tree: Path, route: str, seeds: int, calls: int, preset: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as cache:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(tree), cache, route, str(seeds), str(calls), preset],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(tree)},
            cwd=tree,  # `python -c` puts the working folder first on sys.path
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commits", nargs=2, help="commit A and commit B (any git revision)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--seeds", type=int, default=8, help="vmapped seeds; 0: one key without vmap (jit only)"
    )
    parser.add_argument(
        "--run", type=int, default=0, metavar="N", help="also time N calls of the `jit` program"
    )
    parser.add_argument("--preset", default="cartpole", help="a preset name (default cartpole)")
    args = parser.parse_args()
    if args.seeds < 0:
        parser.error(f"--seeds: must be >= 0, got {args.seeds}")
    if args.run < 0:
        parser.error(f"--run: must be >= 0, got {args.run}")
    if args.preset not in presets.PRESETS:
        parser.error(f"--preset: unknown {args.preset!r}; choose one of {sorted(presets.PRESETS)}")
    routes = ("jit", "command") if args.seeds else ("jit",)
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # one folder per argument: a revision may hold "/", and A may equal B (a noise check)
        trees = [export(c, Path(tmp) / f"tree{i}") for i, c in enumerate(args.commits)]
        for _ in range(args.repeats):
            for route in routes:
                for i, tree in enumerate(trees):
                    calls = args.run if route == "jit" else 0
                    runs.setdefault((route, i), []).append(
                        measure(tree, route, args.seeds, calls, args.preset)
                    )

    def median(route: str, tree: int, part: str = "total") -> float:
        return statistics.median(r[part] for r in runs[(route, tree)])

    a, b = args.commits
    n = args.seeds
    what = f"{n} seeds" if n else "one key, no vmap"
    print(f"\n| cold compile, {args.preset}, {what} | {a} median s | {b} median s | {b} / {a} |")
    print("|---|---|---|---|")
    jit = "`jit(vmap(train))`" if n else "`jit(train)`"
    rows = [("jit", "total", f"{jit}, trace + lower + compile")]
    rows += [("jit", p, f"  of which {p}") for p in ("trace", "lower", "xla")]
    if n:
        rows += [("command", "total", f"`ChunkedRun(cfg, {n}).compile()`, three programs")]
    if args.run:
        rows += [("jit", "run", f"run: median of {args.run} calls of the `jit` program")]
    for route, part, label in rows:
        ma, mb = median(route, 0, part), median(route, 1, part)
        print(f"| {label} | {ma:.2f} | {mb:.2f} | {mb / ma:.2f}x |")
    for (route, index), rs in runs.items():
        print(f"{route} {args.commits[index]}: " + " ".join(f"{r['total']:.2f}" for r in rs))
        if args.run and route == "jit":
            print("  run s: " + " ".join(f"{r['run']:.3f}" for r in rs))
            print(f"  env steps: {sorted({tuple(r['env_steps']) for r in rs})}")


if __name__ == "__main__":
    main()
