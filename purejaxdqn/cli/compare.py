"""`purejaxdqn compare RUN_DIR ...`: rliable's aggregates, intervals and probabilities of
improvement for finished runs (and each setting of a sweep), and compare.png."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from purejaxdqn.cli.common import FORMATTER, UsageError


def add_parser(sub: Any) -> None:
    from purejaxdqn.run.compare import RANDOM_STATE, REPS

    p = sub.add_parser(
        "compare",
        help="median, IQM, mean and optimality gap with bootstrap intervals (rliable)",
        formatter_class=FORMATTER,
    )
    p.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="finished runs")
    p.add_argument(
        "--metric", default="final_eval_return", help="a per-seed result of summary.json"
    )
    p.add_argument("--reps", type=int, default=REPS, help="bootstrap repetitions")
    p.add_argument(
        "--random-state", type=int, default=RANDOM_STATE, help="the bootstrap's random state"
    )
    p.add_argument("--plot", type=Path, default=Path("compare.png"), help="figure to write")
    p.add_argument("--no-plot", action="store_true", help="write no figure")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from purejaxdqn.run import compare

    if args.reps < 1:
        raise UsageError(f"--reps: must be >= 1, got {args.reps}")
    if not args.no_plot and args.plot.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise UsageError(f"--plot {args.plot}: must end in .png, .pdf or .svg")
    found = [e for path in args.run_dirs for e in compare.entries(path, args.metric)]
    result = compare.compare(found, args.metric, args.reps, args.random_state)
    if not args.no_plot:
        compare.plot(found, result, args.plot, random_state=args.random_state)
        result["plot"] = str(args.plot)
    print(json.dumps(result, indent=2) if args.json else compare.format_table(result))
    if not args.json and not args.no_plot:
        print(f"figure: {args.plot}")
    return 0
