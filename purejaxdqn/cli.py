"""The `purejaxdqn` command (also `python -m purejaxdqn`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from purejaxdqn import config as config_mod


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (UsageError, ValueError) as error:
        print(f"purejaxdqn {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"purejaxdqn {args.command}: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="purejaxdqn", description="Deep Q-learning in pure, functional JAX."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = argparse.ArgumentDefaultsHelpFormatter
    train = sub.add_parser(
        "train", help="train all seeds at once and write a run directory", formatter_class=fmt
    )
    train.add_argument("--preset", default="cartpole", help="named DQNConfig to start from")
    train.add_argument("--config", type=Path, help="a config.json to start from instead of a preset")
    train.add_argument("--env", help="gymnax environment id (overrides the preset's)")
    train.add_argument("--seeds", type=int, default=8, help="independent seeds trained in parallel")
    train.add_argument("--seed", type=int, default=0, help="base random seed; seeds split from it")
    train.add_argument("--total-timesteps", type=int, help="env steps per seed (overrides)")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override any DQNConfig field, e.g. --set learning_rate=3e-4 (repeatable)",
    )
    train.add_argument("--solve-threshold", type=float, help="greedy return that counts as solved")
    train.add_argument("--out", type=Path, help="run directory (default runs/<env>-<timestamp>)")
    train.add_argument("--force", action="store_true", help="overwrite an existing run directory")
    train.add_argument(
        "--chunks", type=int, default=20, help="progress updates (compiled calls) over the run"
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument(
        "--no-plot", action="store_true", help="skip learning_curve.png (no matplotlib needed)"
    )
    train.set_defaults(handler=cmd_train)
    return parser


# ------------------------------------------------------------------ config


def parse_set(items: list[str]) -> dict[str, Any]:
    """`field=value` strings -> typed overrides; values parse as JSON, else as strings."""
    fields = {f.name: f for f in dataclasses.fields(config_mod.DQNConfig)}
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep:
            raise UsageError(f"--set {item!r}: expected FIELD=VALUE")
        if name not in fields:
            raise UsageError(
                f"--set {name}: not a DQNConfig field (fields: {', '.join(fields)})"
            )
        if name == "hidden_sizes":
            try:
                value: Any = tuple(int(x) for x in raw.strip("()[] ").split(",") if x.strip())
            except ValueError:
                raise UsageError(f"--set hidden_sizes={raw}: expected widths like 64,64") from None
        else:
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                value = raw
            expected = type(getattr(config_mod.DQNConfig(), name))
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if raw.lower() in ("none", "null"):
                value = None
        changes[name] = value
    return changes


def resolve_config(args: argparse.Namespace) -> config_mod.DQNConfig:
    from purejaxdqn import presets

    if args.config is not None:
        try:
            cfg = config_mod.DQNConfig.from_json(args.config.read_text())
        except FileNotFoundError:
            raise UsageError(f"--config {args.config}: no such file") from None
        except json.JSONDecodeError as error:
            raise UsageError(f"--config {args.config}: not valid JSON ({error})") from None
        except TypeError as error:
            raise UsageError(f"--config {args.config}: {error}") from None
    else:
        cfg = presets.get(args.preset)
    changes = parse_set(args.set)
    if args.env is not None:
        changes["env_id"] = args.env
    if args.total_timesteps is not None:
        changes["total_timesteps"] = args.total_timesteps
    if args.solve_threshold is not None:
        changes["solve_threshold"] = args.solve_threshold
    return cfg.replace(**changes) if changes else cfg


# ------------------------------------------------------------------- train


def cmd_train(args: argparse.Namespace) -> int:
    cfg = resolve_config(args)
    if args.seeds < 1:
        raise UsageError(f"--seeds: must be >= 1, got {args.seeds}")
    if args.chunks < 1:
        raise UsageError(f"--chunks: must be >= 1, got {args.chunks}")
    out = args.out or Path("runs") / f"{cfg.env_id}-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and any(out.iterdir()) and not args.force:
        raise UsageError(f"--out {out}: already exists and is not empty; pass --force to overwrite")

    from purejaxdqn import run_dir
    from purejaxdqn.runner import run_training

    result, timings = run_training(cfg, args.seeds, args.seed, args.chunks, not args.no_progress)
    out.mkdir(parents=True, exist_ok=True)
    summary = run_dir.write(out, cfg, result, timings, plot=not args.no_plot)
    print(run_dir.format_summary(summary))
    print(f"run directory: {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
