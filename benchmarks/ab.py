"""Two commits side by side in one run: compile, throughput at equal work, time to solve.

    python benchmarks/ab.py 7c09753 HEAD                 # the redesign against the commit before it
    python benchmarks/ab.py HEAD~1 HEAD --repeats 3 --parts fixed
    python benchmarks/ab.py HEAD HEAD --repeats 2        # a noise check: A equals B
    python benchmarks/ab.py HEAD . --parts fixed         # ".": the working tree, uncommitted
    python benchmarks/ab.py HEAD HEAD --set-b key_impl=threefry2x32   # one field changed in B
    python benchmarks/ab.py HEAD~1 HEAD --parts fixed --preset minatar-breakout --steps 10000 \
        --set eval_frequency=5000 --fixed-seeds 1,4 --calls 1   # --set: changed in both

Each commit's `purejaxdqn/` is exported (`git archive`) to a temporary folder; every
measurement is a fresh Python process with that folder first on `PYTHONPATH` and a new,
empty JAX cache folder, and the two commits alternate (A, B, A, B, ...), so that a shared
machine's slow minutes fall on both. Parts, each for the `cartpole` preset (`--preset`):
- `fixed`: equal work, no freezing, `--steps` env steps per seed (50k), for 1 and 8
  seeds (`--fixed-seeds`): the cold compile of `jax.jit(jax.vmap(make_train(cfg)))` and
  the median of `--calls` calls (3) of the compiled program, as env steps per second;
- `solve`: time to solve with 8 seeds, the preset as it is (solved seeds freeze):
  compile plus one call, and how many seeds' final greedy return reach the threshold;
- `learn`: learning in distribution, each preset of `--presets` on each key of `--keys`
  with 8 seeds: per key the median and IQM of the final greedy returns and the solved
  count, then the median of the per-key medians and their spread (max - min).
Only public names that both commits have are used (`make_train`, `presets`). Prints a
markdown table of medians and the ratio B / A, then every measurement; writes nothing
unless `--json FILE`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
import jax, numpy as np, purejaxdqn
assert purejaxdqn.__file__.startswith(sys.argv[1]), purejaxdqn.__file__
jax.config.update("jax_compilation_cache_dir", sys.argv[2])
part, preset = sys.argv[3], sys.argv[7]
seeds, calls, steps = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
cfg = purejaxdqn.presets.get(preset)
changes = json.loads(sys.argv[9])
if changes:
    cfg = cfg.replace(**changes)
if part == "fixed":
    cfg = cfg.replace(freeze_when_solved=False, total_timesteps=steps)
keys = jax.random.split(jax.random.key(int(sys.argv[8])), seeds)
t = time.perf_counter()
compiled = jax.jit(jax.vmap(purejaxdqn.make_train(cfg))).lower(keys).compile()
out = {"compile": time.perf_counter() - t, "runs": []}
for _ in range(calls):
    t = time.perf_counter()
    result = jax.block_until_ready(compiled(keys))
    out["runs"].append(time.perf_counter() - t)
env_steps = np.asarray(result.metrics.env_step)[:, -1]
out["env_steps"] = int(env_steps.sum())
final = np.asarray(result.final_eval_returns).mean(-1)
threshold = cfg.resolved_solve_threshold
out["solved"] = int((final >= threshold).sum()) if threshold is not None else None
out["final"] = final.tolist()
print(json.dumps(out))
"""


def export(commit: str, folder: Path, paths: tuple[str, ...] = ("purejaxdqn",)) -> Path:
    """The commit's `paths` (folders of the repository) in `folder`; "." copies the
    working tree's instead. bench_eval.py and bench_vs_scale.py export with it too."""
    if commit == ".":
        for path in paths:
            shutil.copytree(REPO / path, folder / path)
        return folder
    folder.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, *paths], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def measure(
    tree: Path,
    part: str,
    seeds: int,
    calls: int,
    steps: int,
    preset: str,
    key: int = 0,
    changes: dict | None = None,
) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        args = [str(tree), cache, part, str(seeds), str(calls), str(steps), preset, str(key)]
        args.append(json.dumps(changes or {}))
        done = subprocess.run(
            [sys.executable, "-c", CHILD, *args],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(tree), "JAX_PLATFORMS": "cpu"},
            cwd=tree,  # `python -c` puts the working folder first on sys.path
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def cases(parts: list[str], calls: int, fixed_seeds: list[int]) -> list[tuple[str, int, int]]:
    """(part, seeds, calls) of each measurement in one repeat."""
    out = []
    if "fixed" in parts:
        out += [("fixed", seeds, calls) for seeds in fixed_seeds]
    if "solve" in parts:
        out += [("solve", 8, 1)]
    return out


def table(commits: list[str], runs: dict[tuple, list[dict]]) -> list[str]:
    a, b = commits
    lines = [f"| measurement | {a} median | {b} median | {b} / {a} |", "|---|---|---|---|"]

    def row(label: str, values: list[float], fmt: str) -> None:
        lines.append(
            f"| {label} | {values[0]:{fmt}} | {values[1]:{fmt}} | {values[1] / values[0]:.2f}x |"
        )

    for part, seeds in sorted({(p, s) for p, s, _ in runs}):
        per = [runs[(part, seeds, i)] for i in (0, 1)]
        compile_s = [statistics.median(r["compile"] for r in rs) for rs in per]
        run_s = [statistics.median(statistics.median(r["runs"]) for r in rs) for rs in per]
        row(f"{part}, {seeds} seeds: cold compile s", compile_s, ".2f")
        if part == "fixed":
            rates = [
                statistics.median(r["env_steps"] / statistics.median(r["runs"]) for r in rs)
                for rs in per
            ]
            row(f"{part}, {seeds} seeds: run s (median of calls)", run_s, ".2f")
            row(f"{part}, {seeds} seeds: env steps/s", rates, ",.0f")
        else:
            total = [statistics.median(r["compile"] + r["runs"][0] for r in rs) for rs in per]
            row(f"{part}, {seeds} seeds: compile + run s", total, ".2f")
            solved = [[r["solved"] for r in rs] for rs in per]
            lines.append(
                f"| {part}, {seeds} seeds: solved per launch | {solved[0]} | {solved[1]} | |"
            )
    return lines


def learn(
    trees: list[Path], commits: list[str], presets: list[str], keys: list[int], changes: list
) -> dict:
    """(preset, key, tree) -> one 8-seed run of the preset as it is, trees alternating."""
    out = {}
    for key in keys:
        for preset in presets:
            for i, tree in enumerate(trees):
                result = measure(tree, "learn", 8, 1, 0, preset, key, changes[i])
                out[(preset, key, i)] = result
                print("learn", preset, key, commits[i], json.dumps(result), file=sys.stderr)
    return out


def learn_table(commits: list[str], runs: dict, presets: list[str], keys: list[int]) -> list[str]:
    """Per preset and commit: each key's median and IQM (and solved count), then the
    median of the per-key medians and their spread (max - min)."""
    head = " | ".join(f"key {k}" for k in keys)
    lines = [f"| preset | commit | {head} | median of medians | spread | solved |"]
    lines.append("|---" * (len(keys) + 5) + "|")
    for preset in presets:
        for i, commit in enumerate(commits):
            finals = [np.asarray(runs[(preset, k, i)]["final"]) for k in keys]
            medians = [float(np.median(f)) for f in finals]
            cells = " | ".join(f"{m:.1f} / {_iqm(f):.1f}" for m, f in zip(medians, finals))
            solved = [runs[(preset, k, i)]["solved"] for k in keys]
            count = "-" if None in solved else f"{sum(solved)}/{8 * len(keys)} {solved}"
            lines.append(
                f"| {preset} | {commit} | {cells} | {np.median(medians):.1f} "
                f"| {max(medians) - min(medians):.1f} | {count} |"
            )
    return lines


def _iqm(x: np.ndarray) -> float:
    x = np.sort(x)
    n = len(x)
    return float(x[n // 4 : n - n // 4].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commits", nargs=2, help="commit A and commit B (any git revision)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=3, help="calls of each fixed-work program")
    parser.add_argument("--steps", type=int, default=50_000, help="env steps per seed (fixed)")
    parser.add_argument("--preset", default="cartpole")
    parser.add_argument("--fixed-seeds", default="1,8", help="fixed: comma-separated seed counts")
    parser.add_argument(
        "--parts", default="fixed,solve", help="comma-separated: fixed, solve, learn"
    )
    parser.add_argument("--presets", default="cartpole", help="learn: comma-separated presets")
    parser.add_argument("--keys", default="0,1,2,3,4,5", help="learn: comma-separated keys")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a config field changed for both commits (repeatable)",
    )
    parser.add_argument(
        "--set-b",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a config field changed for commit B only (repeatable)",
    )
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    args = parser.parse_args()
    from purejaxdqn.config import parse_value

    def parsed(items: list[str]) -> dict[str, Any]:
        return {n: parse_value(n, raw) for n, _, raw in (i.partition("=") for i in items)}

    changes = [parsed(args.set), parsed(args.set + args.set_b)]
    parts = args.parts.split(",")
    if not set(parts) <= {"fixed", "solve", "learn"}:
        parser.error(f"--parts: choose from fixed, solve, learn; got {args.parts}")
    runs: dict[tuple, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # one folder per argument: a revision may hold "/", and A may equal B (a noise check)
        trees = [export(c, Path(tmp) / f"tree{i}") for i, c in enumerate(args.commits)]
        if "learn" in parts:
            presets = args.presets.split(",")
            keys = [int(k) for k in args.keys.split(",")]
            learned = learn(trees, args.commits, presets, keys, changes)
            print("\n".join(learn_table(args.commits, learned, presets, keys)))
            runs.update({("learn", f"{p}|{k}", i): [r] for (p, k, i), r in learned.items()})
            parts.remove("learn")
        fixed_seeds = [int(n) for n in args.fixed_seeds.split(",")]
        for _ in range(args.repeats if parts else 0):
            for part, seeds, calls in cases(parts, args.calls, fixed_seeds):
                for i, tree in enumerate(trees):
                    result = measure(
                        tree, part, seeds, calls, args.steps, args.preset, 0, changes[i]
                    )
                    runs.setdefault((part, seeds, i), []).append(result)
                    print(part, seeds, args.commits[i], json.dumps(result), file=sys.stderr)
    if any(part != "learn" for part, _, _ in runs):
        print("\n".join(table(args.commits, {k: v for k, v in runs.items() if k[0] != "learn"})))
    if args.json:  # "A:" and "B:" keep the two apart when they are the same commit
        named = {f"{p}|{s}|{'AB'[i]}:{args.commits[i]}": v for (p, s, i), v in runs.items()}
        args.json.write_text(json.dumps(named, indent=1))


if __name__ == "__main__":
    main()
