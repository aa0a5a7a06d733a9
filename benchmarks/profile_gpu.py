"""Where a training iteration's time goes on an accelerator: device kernels by total time.

    python benchmarks/profile_gpu.py --seeds 4096 --out /tmp/profile

Runs the `cartpole` preset (no freezing) for one eval period at `--seeds`, once to warm
up and once under `jax.profiler.trace`, then sums the device kernels of the trace by
name and prints the largest, with the optimized HLO of the run program beside them (to
map fusion names to the code). `--precision` variants time the same run at other matmul
precisions, to tell whether the matrix products are the bottleneck.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import tempfile
import time
from pathlib import Path

import jax

import purejaxdqn
from purejaxdqn.run.runner import ChunkedRun


def timed(config, seeds: int) -> tuple[ChunkedRun, float]:
    runner = ChunkedRun(config, seeds, seed=0, chunks=1)
    runner.compile()
    jax.block_until_ready(runner.run(runner.init()))  # warm
    start = time.perf_counter()
    jax.block_until_ready(runner.run(runner.init()))
    return runner, time.perf_counter() - start


def kernel_tables(trace_dir: Path, top: int) -> list[str]:
    """Per kind of device timeline (streams, XLA ops, XLA modules): its events summed by
    name, largest first, as lines `total ms, count, name`."""
    path = next(trace_dir.rglob("*.trace.json.gz"))
    events = json.loads(gzip.open(path).read())["traceEvents"]
    meta = [e for e in events if e.get("ph") == "M"]
    device_pids = {
        e["pid"]
        for e in meta
        if e.get("name") == "process_name"
        and "/device:" in str(e.get("args", {}).get("name", ""))
        and "CPU" not in str(e["args"]["name"])
    }
    kind = {  # "Stream #12(Compute)" and "Stream #13" are both "Stream"
        (e["pid"], e["tid"]): re.sub(r"\s*#?\d+.*", "", str(e["args"].get("name", "")))
        for e in meta
        if e.get("name") == "thread_name" and e.get("pid") in device_pids
    }
    total: dict = collections.defaultdict(float)
    count: dict = collections.Counter()
    for e in events:
        if e.get("ph") == "X" and e.get("pid") in device_pids:
            key = (kind.get((e["pid"], e.get("tid")), "?"), e["name"])
            total[key] += e.get("dur", 0) / 1000
            count[key] += 1
    lines = []
    for k in sorted({k for k, _ in total}):
        names = sorted((n for kk, n in total if kk == k), key=lambda n: -total[(k, n)])
        whole = sum(total[(k, n)] for n in names)
        lines.append(f"== {k}: {whole:.1f} ms in {sum(count[(k, n)] for n in names)} events")
        lines += [f"{total[(k, n)]:10.2f} ms {count[(k, n)]:8d} x  {n[:110]}" for n in names[:top]]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=4096)
    parser.add_argument("--out", type=Path, default=Path("profile"))
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--precision", default="float32,bfloat16", help="variants to time")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    config = purejaxdqn.presets.cartpole().replace(
        freeze_when_solved=False, total_timesteps=6_000
    )  # warm-up, then one eval period of 1250 iterations
    iterations = config.num_periods * config.iterations_per_period
    runner, seconds = timed(config, args.seeds)
    print(f"{args.seeds} seeds, {iterations} iterations: {seconds:.3f} s", flush=True)
    (args.out / "run_program.hlo.txt").write_text(runner._programs()[1].as_text())
    trace = Path(tempfile.mkdtemp(prefix="purejaxdqn-trace-"))
    with jax.profiler.trace(str(trace)):
        jax.block_until_ready(runner.run(runner.init()))
    lines = kernel_tables(trace, args.top)
    (args.out / "kernels.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    for precision in filter(None, args.precision.split(",")):
        with jax.default_matmul_precision(precision):
            _, seconds = timed(config, args.seeds)
        print(f"matmul precision {precision}: {seconds:.3f} s", flush=True)


if __name__ == "__main__":
    main()
