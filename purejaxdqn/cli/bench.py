"""`purejaxdqn bench`: throughput on this machine against the number of seeds
(run/bench.py), from the installed package."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from purejaxdqn.cli.common import FORMATTER, UsageError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="env steps/s with learning against seeds, beside the env alone, on this machine",
        formatter_class=FORMATTER,
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--preset", default="cartpole", help="named DQNConfig to measure")
    which.add_argument("--config", type=Path, help="a config.json instead of a preset")
    p.add_argument("--seeds", default="1,16,256,1024", help="comma-separated seed counts")
    p.add_argument("--steps", type=int, default=50_000, help="env steps per seed (fixed work)")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per row (the median)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--plot", type=Path, metavar="FILE", help="write the seeds-vs-throughput plot")
    p.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from purejaxdqn import presets
    from purejaxdqn.cli.common import config_file
    from purejaxdqn.run import bench

    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise UsageError(f"--seeds {args.seeds}: expected comma-separated integers") from None
    if not seeds or min(seeds) < 1:
        raise UsageError(f"--seeds {args.seeds}: every count must be >= 1")
    if args.steps < 1 or args.repeats < 1:
        raise UsageError("--steps and --repeats: must be >= 1")
    config = config_file(args.config) if args.config else presets.get(args.preset)
    config = bench.fixed_work(config, args.steps)  # refused here, before compiling, if invalid
    source = f"--config {args.config}" if args.config else f"--preset {args.preset}"
    command = (
        f"purejaxdqn bench {source} --seeds {args.seeds} --steps {args.steps} "
        f"--repeats {args.repeats}"
    )
    print(command, flush=True)

    def report(row: dict) -> None:
        print(
            f"  {row['seeds']} seeds: compile {row['compile_s']:.2f} s, "
            f"{row['env_steps_per_s']:,} env steps/s",
            flush=True,
        )

    data = bench.bench(config, seeds, args.steps, args.repeats, report)
    data["command"] = command
    print(bench.format_table(data))
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
        print(f"figures: {args.json}")
    if args.plot:
        bench.plot(data, args.plot)
        print(f"plot: {args.plot}")
    return 0
