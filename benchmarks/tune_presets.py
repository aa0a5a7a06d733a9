"""The measurements behind the algorithm presets (benchmarks/RESULTS.md, "Tuning the
algorithm presets"): a preset and candidate changes of it, 8 vmapped seeds per key.

    python benchmarks/tune_presets.py c51 --keys 0,1 base lr=learning_rate=5e-4
    python benchmarks/tune_presets.py Acrobot-v1:pqn base   # --env Acrobot-v1 --set algorithm=pqn

A candidate is `base` (the preset unchanged) or `LABEL=FIELD=VALUE[,FIELD=VALUE...]`
(values parsed as `--set` parses them). Prints, per candidate and key, compile and run
seconds, seeds solved (final greedy return >= the env's threshold on the preset's final
evaluation), the median final return, and appends each row to
benchmarks/results/tune_presets.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from machine import machine  # benchmarks/machine.py
from tune_cartpole import timed_seeds  # benchmarks/tune_cartpole.py

import purejaxdqn
from purejaxdqn import config as config_lib
from purejaxdqn import presets

RESULTS = Path(__file__).parent / "results" / "tune_presets.json"


def candidate(base: purejaxdqn.DQNConfig, spec: str) -> tuple[str, purejaxdqn.DQNConfig]:
    if spec == "base":
        return spec, base
    label, _, changes = spec.partition("=")
    fields = {}
    for item in changes.split(","):
        name, _, value = item.partition("=")
        fields[name] = config_lib.parse_value(name, value)
    return label, base.replace(**fields)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("preset", help="a preset, or ENV:ALGORITHM as the CLI builds it")
    parser.add_argument("candidates", nargs="+")
    parser.add_argument("--keys", default="0")
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    if ":" in args.preset:
        env_id, _, algorithm = args.preset.partition(":")
        base, _ = presets.switch_algorithm(presets.for_env(env_id)[1], algorithm)
    else:
        base = presets.get(args.preset)
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    for spec in args.candidates:
        label, config = candidate(base, spec)
        for k in (int(s) for s in args.keys.split(",")):
            compile_s, run_s, result = timed_seeds(config, k, args.seeds)
            final = np.asarray(result.final_eval_returns).mean(-1)
            threshold = config.resolved_solve_threshold
            solved = int((final >= threshold).sum()) if threshold is not None else None
            row = {
                "preset": args.preset,
                "env": config.env_id,
                "candidate": label,
                "spec": spec,
                "key": k,
                "seeds": args.seeds,
                "compile_s": round(compile_s, 2),
                "run_s": round(run_s, 2),
                "solved": solved,
                "median": float(np.median(final)),
                "final": [round(float(x), 1) for x in final],
                "diverged": int(np.asarray(result.state.progress.diverged).sum()),
                "machine": machine(),
            }
            rows.append(row)
            print(
                f"{args.preset:12s} {config.env_id:14s} {label:24s} key {k}: "
                f"compile {compile_s:5.1f} s run {run_s:6.1f} s solved {solved} "
                f"median {row['median']:8.1f} diverged {row['diverged']}  {row['final']}",
                flush=True,
            )
            RESULTS.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
