"""`purejaxdqn bench` against a commit's own benchmarks/bench_scale.py, in one run.

    python benchmarks/bench_vs_scale.py dd99d2b --seeds 1,8 --rounds 2

A is `python benchmarks/bench_scale.py` of COMMIT (exported with `git archive`, its
`purejaxdqn/` first on PYTHONPATH), B is `python -m purejaxdqn bench` of this tree, each
with a fresh JAX cache folder, alternating A, B, A, B so that a shared machine's slow
minutes fall on both. Both at the same settings: the `cartpole` preset, `--steps` env
steps per seed, no freezing, 3 timed calls a row. Prints the median env steps/s of each
seed count over the rounds and the ratio B / A; `--json FILE` keeps every measurement.
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

from ab import export  # benchmarks/ab.py

REPO = Path(__file__).resolve().parent.parent


def run_a(tree: Path, seeds: str, steps: int, work: Path) -> dict[int, float]:
    out = work / "a"
    env = {**os.environ, "PYTHONPATH": str(tree), "JAX_PLATFORMS": "cpu"}
    subprocess.run(
        [sys.executable, str(tree / "benchmarks" / "bench_scale.py"), "--seeds", seeds,
         "--timesteps", str(steps), "--repeats", "3", "--out", str(out)],
        check=True, env=env, cwd=tempfile.mkdtemp(), stdout=subprocess.DEVNULL,
    )  # fmt: skip
    (path,) = out.glob("scale-*.json")
    rows = json.loads(path.read_text())["rows"]
    path.unlink()
    return {r["seeds"]: r["env_steps_per_s"] for r in rows}


def run_b(seeds: str, steps: int, work: Path) -> dict[int, float]:
    figures = work / "b.json"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="purejaxdqn-bench-")
    subprocess.run(
        [sys.executable, "-m", "purejaxdqn", "bench", "--seeds", seeds, "--steps", str(steps),
         "--repeats", "3", "--json", str(figures)],
        check=True, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return {r["seeds"]: r["env_steps_per_s"] for r in json.loads(figures.read_text())["rows"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commit", help="the commit whose bench_scale.py is A")
    parser.add_argument("--seeds", default="1,8")
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-vs-scale-"))
    tree = export(args.commit, work / "tree", ("purejaxdqn", "benchmarks"))
    measured: dict[str, list[dict[int, float]]] = {"a": [], "b": []}
    for r in range(args.rounds):
        measured["a"].append(run_a(tree, args.seeds, args.steps, work))
        measured["b"].append(run_b(args.seeds, args.steps, work))
        print(f"round {r}: A {measured['a'][-1]}  B {measured['b'][-1]}", flush=True)
    print(f"\n| seeds | A: bench_scale.py at {args.commit} | B: purejaxdqn bench | B / A |")
    print("|---|---|---|---|")
    table = []
    for n in (int(s) for s in args.seeds.split(",")):
        a = statistics.median(m[n] for m in measured["a"])
        b = statistics.median(m[n] for m in measured["b"])
        table.append({"seeds": n, "a": a, "b": b, "ratio": round(b / a, 3)})
        print(f"| {n} | {a:,.0f} | {b:,.0f} | {b / a:.3f} |")
    if args.json:
        from machine import machine  # benchmarks/machine.py

        data = {"machine": machine(), "command": "python benchmarks/bench_vs_scale.py "
                + " ".join(sys.argv[1:]), "measured": measured, "medians": table}  # fmt: skip
        args.json.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
