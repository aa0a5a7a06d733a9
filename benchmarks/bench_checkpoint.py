"""Checkpoints: the old gather-to-process-0 msgpack file against orbax, in the same run.

    python benchmarks/bench_checkpoint.py --seeds 16,256,1024       # about 5 min on 2 cores
    python benchmarks/bench_checkpoint.py --parts lost --lost-seeds 64

Parts:
- `save`: for each seed count, the `cartpole` preset's full state (replay buffers
  included, every array filled with random values as a run's later checkpoints hold data,
  not the zeros of a fresh state) saved once by each method, each in a fresh process:
  seconds to a complete checkpoint on disk, and the peak host memory the save adds (the
  process's peak resident set, reset before the save through /proc/self/clear_refs, minus
  its size before). The
  old method is purejaxdqn's checkpoint module at OLD (the last commit before orbax),
  read from git and imported unchanged: gather the state to the host, then write it.
  With `--before COMMIT`, orbax as saved by COMMIT's purejaxdqn (exported, first on
  PYTHONPATH) runs between the two, in turn.
- `lost`: the training time a save costs: `--lost-seeds` seeds of the `cartpole` preset
  without freezing, 10 chunks, a checkpoint after every chunk, blocking (each save waited
  for) against asynchronous (orbax writes while the next chunk runs), against no
  checkpoints; the median of `--repeats` runs of each, in turn.
- `cost`: where an asynchronous save's time goes: `--lost-seeds` seeds' filled state saved
  `--repeats` + 1 times in one process (the first, compiling the digest, dropped): the
  seconds the `save` call takes (the loop waits that long), the seconds until the write
  is done, and the process's CPU seconds over both.
Writes `--json` (benchmarks/results/checkpoint.json unless given).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from machine import machine  # benchmarks/machine.py

import purejaxdqn
from purejaxdqn.run import checkpoint
from purejaxdqn.run.runner import ChunkedRun

HERE = Path(__file__).parent
ROOT = HERE.parent
OLD = "406202f"  # the commit before orbax checkpoints


def old_module():
    source = subprocess.run(
        ["git", "show", f"{OLD}:purejaxdqn/run/checkpoint.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "old_checkpoint.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_checkpoint", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rss() -> tuple[int, int]:
    """(current, peak) resident set of this process, bytes."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def one_save(method: str, seeds: int) -> dict:
    config = purejaxdqn.presets.cartpole()
    runner = ChunkedRun(config, seeds, chunks=20)
    state = jax.block_until_ready(filled(runner.init()))
    state_bytes = sum(x.nbytes for x in jax.tree.leaves(jax.tree.map(_data, state)))
    with tempfile.TemporaryDirectory(dir=HERE) as folder:
        Path("/proc/self/clear_refs").write_text("5")  # the peak from here on
        before, _ = rss()
        start = time.perf_counter()
        if method == "gather":
            old_module().save(Path(folder), runner.host(state), {"period": 0})
        else:
            mgr = checkpoint.manager(Path(folder))
            checkpoint.save(mgr, 0, state, state.learner.params, {"period": 0})
            checkpoint.wait(mgr)
            mgr.close()
        seconds = time.perf_counter() - start
        _, peak = rss()
    return {
        "method": method,
        "package": str(Path(purejaxdqn.__file__).parent),
        "seeds": seeds,
        "save_s": seconds,
        "state_bytes": state_bytes,
        "peak_extra_bytes": peak - before,
    }


def filled(state):
    """`state` with every array but the keys random: what a full replay buffer holds, as
    far as writing it goes (no long runs of zeros to compress)."""
    leaves, tree = jax.tree.flatten(state)
    keys = jax.random.split(jax.random.key(0), len(leaves))

    def fill(x, key):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return x
        if x.dtype == np.bool_:
            return jax.random.bernoulli(key, 0.5, x.shape)
        if np.issubdtype(x.dtype, np.floating):
            return jax.random.normal(key, x.shape, x.dtype)
        return jax.random.randint(key, x.shape, 0, 1000).astype(x.dtype)

    return jax.tree.unflatten(tree, [fill(x, k) for x, k in zip(leaves, keys, strict=True)])


def _data(x):
    return jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x


def lost(seeds: int, repeats: int) -> dict:
    config = purejaxdqn.presets.cartpole().replace(freeze_when_solved=False, total_timesteps=50_000)
    runner = ChunkedRun(config, seeds, chunks=10)
    runner.compile()
    times: dict[str, list[float]] = {"none": [], "blocking": [], "async": []}
    for _ in range(repeats):
        for mode in times:
            with tempfile.TemporaryDirectory(dir=HERE) as folder:
                mgr = checkpoint.manager(Path(folder), keep=2)
                saves = []

                def after_chunk(state, mgr=mgr, mode=mode, saves=saves):
                    if mode != "none":
                        checkpoint.save(mgr, len(saves), state, state.learner.params, {})
                        saves.append(1)
                        if mode == "blocking":
                            checkpoint.wait(mgr)
                    return True

                state = runner.init()
                jax.block_until_ready(state)
                start = time.perf_counter()
                jax.block_until_ready(runner.run(state, after_chunk))
                checkpoint.wait(mgr)
                times[mode].append(time.perf_counter() - start)
                mgr.close()
    med = {mode: float(np.median(t)) for mode, t in times.items()}
    return {
        "seeds": seeds,
        "repeats": repeats,
        "run_s": times,
        "median_s": med,
        "lost_blocking_s": med["blocking"] - med["none"],
        "lost_async_s": med["async"] - med["none"],
    }


def cost(seeds: int, repeats: int) -> dict:
    runner = ChunkedRun(purejaxdqn.presets.cartpole(), seeds, chunks=20)
    state = jax.block_until_ready(filled(runner.init()))
    rows = []
    with tempfile.TemporaryDirectory(dir=HERE) as folder:
        mgr = checkpoint.manager(Path(folder))
        for n in range(repeats + 1):
            cpu, start = time.process_time(), time.perf_counter()
            checkpoint.save(mgr, n, state, state.learner.params, {})
            called = time.perf_counter()
            checkpoint.wait(mgr)
            end = time.perf_counter()
            rows.append({"call_s": called - start, "save_s": end - start,
                         "cpu_s": time.process_time() - cpu})  # fmt: skip
        mgr.close()
    med = {k: float(np.median([r[k] for r in rows[1:]])) for k in rows[0]}
    return {"seeds": seeds, "saves": rows[1:], "median": med}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parts", default="save,lost")
    parser.add_argument("--seeds", default="16,256,1024")
    parser.add_argument("--lost-seeds", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", metavar="COMMIT", help="also orbax as COMMIT saved")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "checkpoint.json")
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "SEEDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_save(args.one[0], int(args.one[1]))))
        return
    data: dict = {"machine": machine(), "command": " ".join(sys.argv), "old": OLD}
    data["before"] = args.before
    if "save" in args.parts:
        data["save"] = []
        methods = {"gather": None, "orbax": None}
        if args.before:
            from ab import export  # benchmarks/ab.py

            tree = export(args.before, Path(tempfile.mkdtemp()) / "tree")
            methods = {"gather": None, f"orbax@{args.before}": str(tree), "orbax": None}
        for seeds in (int(s) for s in args.seeds.split(",")):
            for method, tree in methods.items():
                env = {**os.environ, "PYTHONPATH": tree} if tree else None
                done = subprocess.run(
                    [sys.executable, __file__, "--one", method.split("@")[0], str(seeds)],
                    capture_output=True, text=True, check=True, cwd=HERE, env=env,
                )  # fmt: skip
                row = {**json.loads(done.stdout.strip().splitlines()[-1]), "method": method}
                data["save"].append(row)
                print(
                    f"{method:14s} {seeds:5d} seeds: save {row['save_s']:6.2f} s, peak host "
                    f"memory +{row['peak_extra_bytes'] / 2**20:7.1f} MiB "
                    f"(state {row['state_bytes'] / 2**20:.1f} MiB)",
                    flush=True,
                )
    if "cost" in args.parts:
        data["cost"] = cost(args.lost_seeds, args.repeats)
        print(json.dumps(data["cost"]["median"]), flush=True)
    if "lost" in args.parts:
        data["lost"] = lost(args.lost_seeds, args.repeats)
        print(json.dumps(data["lost"]["median_s"]), flush=True)
    args.json.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
