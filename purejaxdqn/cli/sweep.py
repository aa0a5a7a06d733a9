"""`purejaxdqn sweep`: settings of the traced hyperparameters x seeds, in one compiled
program, trained like `train` (cli/train.py) into one run directory."""

from __future__ import annotations

import argparse
from typing import Any

from purejaxdqn.cli import train
from purejaxdqn.cli.common import FORMATTER, UsageError, add_train_options


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="train settings of the traced hyperparameters x seeds in one compiled program",
        formatter_class=FORMATTER,
    )
    add_train_options(p)
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="FIELD=V1,V2",
        help="values of a traced field; several --grid make their product (repeatable)",
    )
    p.add_argument("--random", type=int, default=0, help="random settings drawn from --range")
    p.add_argument(
        "--range",
        action="append",
        default=[],
        metavar="FIELD=LOW:HIGH[:log]",
        help="range of a traced field for --random (repeatable)",
    )
    p.set_defaults(handler=train.command, make_settings=settings)


def settings(args: argparse.Namespace, cfg: Any) -> list[dict[str, float]]:
    """The settings the flags ask for, each validated as a config."""
    from purejaxdqn.run import sweep

    grid = sweep.parse_grid(args.grid)
    ranges = sweep.parse_ranges(args.range)
    if not grid and not ranges:
        raise UsageError("sweep: give at least one --grid or --range")
    return sweep.make_settings(cfg, grid, ranges, args.random, args.seed)
