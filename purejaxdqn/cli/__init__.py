"""The `purejaxdqn` command (also `python -m purejaxdqn`), one module per command:
train.py, sweep.py, eval.py, watch.py, export.py, compare.py, bench.py, inspect.py;
common.py holds what they share."""

from __future__ import annotations

import argparse
import sys
import warnings

from absl import logging

from purejaxdqn.cli import bench, common, compare, export, inspect, sweep, train, watch
from purejaxdqn.cli import eval as eval_command
from purejaxdqn.cli.common import UsageError, parse_set, resolve_config

__all__ = ["UsageError", "build_parser", "main", "parse_set", "resolve_config"]

COMMANDS = (train, sweep, eval_command, watch, export, compare, bench, inspect)


def build_parser() -> argparse.ArgumentParser:
    return _build()[0]


def _build() -> tuple[common.OneLineParser, dict[str, common.OneLineParser]]:
    """The parser and each command's own parser, by name."""
    parser = common.OneLineParser(  # its subparsers are OneLineParsers too
        prog="purejaxdqn", description="Deep Q-learning in pure, functional JAX."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser, sub.choices


def main(argv: list[str] | None = None) -> int:
    parser, commands = _build()
    args, unknown = parser.parse_known_args(argv)
    logging.set_verbosity(logging.ERROR)  # orbax's informational absl warnings
    if unknown:  # refused by the command's own parser, whose --help lists its flags
        commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        with warnings.catch_warnings():  # restores Python's own display afterwards
            warnings.showwarning = common.one_line_warning
            # A failed checkpoint write leaves orbax's other coroutines of that save
            # unawaited; Python warns when they are collected. The error says it all.
            warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
            return args.handler(args)
    except (UsageError, ValueError) as error:
        print(f"purejaxdqn {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # disk full, permission denied, ...
        where = f": {error.filename}" if error.filename else ""
        text = f"{error.strerror}{where}" if error.strerror else str(error)
        print(f"purejaxdqn {args.command}: error: {text}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"purejaxdqn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
