"""`purejaxdqn export RUN_DIR --out DIR`: the greedy policy alone (run/export.py), for
`load_policy`, `eval` and `watch` without the training state."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from purejaxdqn.cli.common import FORMATTER, UsageError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="write the greedy policy of a run's seeds: parameters and config, no training state",
        formatter_class=FORMATTER,
    )
    p.add_argument("run_dir", type=Path, help="a run directory written by `purejaxdqn train`")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--seed-index", type=int, default=0, help="the seed to export (default 0)")
    which.add_argument("--all", action="store_true", help="every seed (and sweep setting)")
    p.add_argument("--out", type=Path, required=True, help="folder to write the policy into")
    p.add_argument("--force", action="store_true", help="overwrite an existing export")
    p.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from purejaxdqn.run import export

    if args.out.exists() and any(args.out.iterdir()) and not args.force:
        raise UsageError(f"--out {args.out}: already exists and is not empty; pass --force")
    if export.is_export(args.run_dir):
        raise UsageError(f"{args.run_dir}: is an export already; export a run directory")
    seeds = None if args.all else [args.seed_index]
    description = export.export(args.run_dir, args.out, seeds)
    size = sum(f.stat().st_size for f in args.out.iterdir() if f.is_file())
    chosen = description["seed_indices"]
    which = f"all {len(chosen)} seeds" if args.all else f"seed {chosen[0]}"
    print(
        f"{description['env_id']}: {which} of {args.run_dir} -> {args.out} ({size / 1024:.1f} KiB)"
    )
    return 0
