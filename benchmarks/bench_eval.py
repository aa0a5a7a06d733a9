"""`purejaxdqn eval` of an export against `eval` of a run directory, in one run.

    python benchmarks/bench_eval.py a393544 --rounds 5                  # 8 seeds
    python benchmarks/bench_eval.py a393544 --seeds 256 --total-timesteps 10000 --episodes 10
    python benchmarks/bench_eval.py a393544 --before 7526edb     # and D: an A/B of a change

Three commands (four with `--before`), each a fresh Python process, timed whole (start to
exit), alternating A, B, C (D) each round, each twice: with a new, empty JAX cache folder
(cold) and with the command's own folder, filled by one untimed launch before (warm: a
second eval):
- A: `eval RUN_DIR` at COMMIT (its `purejaxdqn/` exported with `git archive`, first on
  PYTHONPATH), on a run directory that COMMIT trained: the eval the export issue was
  written against (a393544 builds the trainer to read the parameters);
- B: `eval RUN_DIR` of this tree, on a run directory it trained (the checkpoint's params
  item alone);
- C: `eval POLICY` of this tree, on `purejaxdqn export RUN_DIR --all`;
- D (with `--before COMMIT`): `eval POLICY` at that commit, on the same export: C's
  A/B against the tree before a change, in the same run.
Every run directory is `--seeds` (8) seeds of the `cartpole` preset (its 50k-transition
buffers: the state a run directory holds grows with the seeds, an export's does not),
trained for `--total-timesteps` (the preset's by default); each eval plays `--episodes`
(100) greedy episodes per seed in gymnax. Prints the medians and the ratios
to A; `--json FILE` keeps every time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ab import export  # benchmarks/ab.py


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "purejaxdqn", *args]


def environment(tree: Path | None, cache: str | None = None) -> dict[str, str]:
    """The commands' own cache setting, in a folder of the benchmark's: XDG_CACHE_HOME
    (where `enable_compilation_cache` puts it, caching every program however fast it
    compiled; JAX_COMPILATION_CACHE_DIR would keep JAX's one-second floor)."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["XDG_CACHE_HOME"] = cache or tempfile.mkdtemp(prefix="bench-eval-cache-")
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def run(tree: Path | None, *args: str, cache: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(
        command(*args), check=True, env=environment(tree, cache), cwd=tempfile.mkdtemp(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commit", help="the commit whose eval of a run directory is A")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--total-timesteps", type=int)
    parser.add_argument("--before", help="also time `eval` of the export at this commit (D)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    old = export(args.commit, work / "old")
    train = ("train", "--seeds", str(args.seeds), "--no-plot", "--no-progress")
    if args.total_timesteps:
        train = (*train, "--total-timesteps", str(args.total_timesteps))
    run(old, *train, "--out", str(work / "run-old"))
    run(None, *train, "--out", str(work / "run-new"))
    run(None, "export", str(work / "run-new"), "--all", "--out", str(work / "policy"))
    episodes = ("--episodes", str(args.episodes))
    cases = {
        "A": (old, ("eval", str(work / "run-old"), *episodes)),
        "B": (None, ("eval", str(work / "run-new"), *episodes)),
        "C": (None, ("eval", str(work / "policy"), *episodes)),
    }
    if args.before:
        before = export(args.before, work / "before")
        cases["D"] = (before, ("eval", str(work / "policy"), *episodes))
    # cold: a new, empty JAX cache folder each launch; warm: one folder per command, filled
    # by an untimed launch first (a second eval of the same run).
    caches = {k: tempfile.mkdtemp(prefix=f"bench-eval-warm-{k}-") for k in cases}
    for name, (tree, argv) in cases.items():
        run(tree, *argv, cache=caches[name])
    times: dict[str, dict[str, list[float]]] = {m: {k: [] for k in cases} for m in ("cold", "warm")}
    for r in range(args.rounds):
        for name, (tree, argv) in cases.items():
            times["cold"][name].append(run(tree, *argv))
            times["warm"][name].append(run(tree, *argv, cache=caches[name]))
        print(f"round {r}: " + ", ".join(
            f"{k} {times['cold'][k][-1]:.2f} / {times['warm'][k][-1]:.2f} s" for k in cases
        ), flush=True)  # fmt: skip
    medians = {m: {k: statistics.median(v) for k, v in t.items()} for m, t in times.items()}
    labels = {
        "A": f"eval of a run directory at {args.commit}",
        "B": "eval of a run directory (this tree)",
        "C": "eval of an export (this tree)",
        "D": f"eval of an export at {args.before}",
    }
    print("\n| command | cold cache: median s | / A | warm cache: median s | / A |")
    print("|---|---|---|---|---|")
    labels = {k: label for k, label in labels.items() if k in cases}
    for k, label in labels.items():
        cold, warm = medians["cold"], medians["warm"]
        print(f"| {k}: {label} | {cold[k]:.2f} | {cold[k] / cold['A']:.2f} | "
              f"{warm[k]:.2f} | {warm[k] / warm['A']:.2f} |")  # fmt: skip
    if args.json:
        from machine import machine  # benchmarks/machine.py

        data = {"machine": machine(), "command": "python benchmarks/bench_eval.py "
                + " ".join(sys.argv[1:]), "labels": labels, "times_s": times,
                "medians_s": medians}  # fmt: skip
        args.json.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
