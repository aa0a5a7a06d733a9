"""What the commands share: one-line usage errors, the training options, config resolution
and the devices to shard over."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from purejaxdqn import config as config_mod

FORMATTER = argparse.ArgumentDefaultsHelpFormatter
# Options that configure a run, refused with --resume (the run keeps its configuration).
CONFIG_FLAGS = ("config", "env", "total_timesteps", "solve_threshold", "out", "network")


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse with its usage errors (wrong type, unknown flag, missing value) as one line
    and a hint to --help, instead of the usage block before the message; exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning during a command, as one line (not Python's file:line and source line)."""
    print(f"purejaxdqn: warning: {message}", file=sys.stderr if file is None else file)


def add_train_options(p: argparse.ArgumentParser) -> None:
    """The options of `train` and `sweep`."""
    p.add_argument(
        "--preset",
        default=argparse.SUPPRESS,  # absent: chosen from --env (the help says how)
        help="named DQNConfig to start from (default: the --env's own preset where it "
        "has one, else cartpole)",
    )
    p.add_argument("--config", type=Path, help="a config.json to start from instead of a preset")
    p.add_argument("--env", help="gymnax environment id (overrides the preset's)")
    p.add_argument("--seeds", type=int, default=8, help="independent seeds trained in parallel")
    p.add_argument("--seed", type=int, default=0, help="base random seed; seeds split from it")
    p.add_argument("--total-timesteps", type=int, help="env steps per seed (overrides)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override any DQNConfig field, e.g. --set learning_rate=3e-4 (repeatable)",
    )
    p.add_argument(
        "--network",
        metavar="MODULE:CLASS[=JSON]",
        help="a flax module of yours as the torso, e.g. mynets:LayerNormMLP or "
        'mynets:LayerNormMLP={"width": 128} (imported from the working folder or the path)',
    )
    p.add_argument("--solve-threshold", type=float, help="greedy return that counts as solved")
    p.add_argument("--out", type=Path, help="run directory (default runs/<env>-<timestamp>)")
    p.add_argument("--force", action="store_true", help="overwrite an existing run directory")
    p.add_argument(
        "--chunks", type=int, default=20, help="progress updates (compiled calls) over the run"
    )
    p.add_argument(
        "--checkpoint-every",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="write a checkpoint after a chunk once this long has passed since the last "
        "(0: after every chunk); Ctrl-C and SIGTERM always write one",
    )
    p.add_argument(
        "--keep-checkpoints",
        type=int,
        default=2,
        metavar="N",
        help="checkpoints kept in RUN_DIR/checkpoints (the newest N; at least 1)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--log",
        action="append",
        choices=("tensorboard", "wandb"),
        metavar="{tensorboard,wandb}",
        help="curves for TensorBoard (RUN_DIR/tb) or W&B (pip install 'purejaxdqn[wandb]'); "
        "both may be given; --resume continues the run's own unless given",
    )
    p.add_argument(
        "--log-seeds",
        type=int,
        metavar="N",
        help="seeds (per setting) logged one curve each, beside the aggregates (default 8)",
    )
    p.add_argument(
        "--no-plot", action="store_true", help="skip learning_curve.png (no matplotlib needed)"
    )
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue an interrupted run from its latest checkpoint (takes no other config flags)",
    )
    _add_device_options(p)


def _add_device_options(p: argparse.ArgumentParser) -> None:
    dev = p.add_argument_group(
        "devices and hosts",
        "runs (seeds x settings) are sharded over every device of every process",
    )
    dev.add_argument(
        "--devices", type=int, help="use only the first N devices (default: all of them)"
    )
    dev.add_argument(
        "--distributed",
        action="store_true",
        help="one process of a multi-host job: jax.distributed.initialize from the flags "
        "below, JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID, or the cluster "
        "(SLURM, Open MPI, Kubernetes); process 0 writes the run directory's files, every "
        "process its checkpoint shards (the run directory must be on a filesystem all see)",
    )
    dev.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    dev.add_argument("--num-processes", type=int, help="processes in the job")
    dev.add_argument("--process-id", type=int, help="this process's index, 0 .. N-1")
    dev.add_argument(
        "--heartbeat-timeout",
        type=int,
        default=100,
        metavar="SECONDS",
        help="a process silent this long counts as lost, and the others end with an error",
    )


def parse_set(items: list[str]) -> dict[str, Any]:
    """`field=value` strings -> overrides typed as the fields declare (config.parse_value)."""
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep:
            raise UsageError(f"--set {item!r}: expected FIELD=VALUE")
        try:
            name = name.strip().replace("-", "_")
            changes[name] = config_mod.parse_value(name, raw)
        except ValueError as error:
            raise UsageError(f"--set {error}") from None
    return changes


def resolve_config(args: argparse.Namespace) -> config_mod.DQNConfig:
    """The run's config: --config, else --preset, else the --env's preset; then the
    overrides (--set, --env, --total-timesteps, --solve-threshold)."""
    if args.config is not None:
        cfg = config_file(args.config)
    elif getattr(args, "preset", None) is not None:
        from purejaxdqn import presets

        cfg = presets.get(args.preset)
    else:
        cfg = _env_preset(args.env)
    changes = parse_set(args.set)
    if args.env is not None:
        changes["env_id"] = args.env
    algorithm = changes.pop("algorithm", cfg.algorithm)
    if algorithm != cfg.algorithm:
        cfg = _switch(cfg.replace(env_id=changes.pop("env_id", cfg.env_id)), algorithm)
    if args.total_timesteps is not None:
        changes["total_timesteps"] = args.total_timesteps
    if args.solve_threshold is not None:
        changes["solve_threshold"] = args.solve_threshold
    return cfg.replace(**changes) if changes else cfg


def _switch(cfg: config_mod.DQNConfig, algorithm: str) -> config_mod.DQNConfig:
    """The config with another algorithm (presets.switch_algorithm); says what it kept."""
    from purejaxdqn import presets

    switched, kept = presets.switch_algorithm(cfg, algorithm)
    print(
        f"algorithm: {algorithm}, its fields from its own preset; kept from the "
        f"{cfg.algorithm} config (or set for the env): {', '.join(kept)}"
    )
    return switched


def config_file(path: Path) -> config_mod.DQNConfig:
    try:
        return config_mod.DQNConfig.from_json(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"--config {path}: no such file") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"--config {path}: not valid JSON ({error})") from None
    except TypeError as error:
        raise UsageError(f"--config {path}: {error}") from None


def _env_preset(env: str | None) -> config_mod.DQNConfig:
    """The --env's own preset, or the default one; says which when --env is given."""
    from purejaxdqn import presets

    name, cfg = presets.for_env(env or presets.get(presets.DEFAULT).env_id)
    if env is not None:
        own = presets.ENV_PRESETS.get(env) == name
        why = f"{env}'s preset" if own else f"the default; {env} has no preset of its own"
        tuned = ", ".join(f"{k}={v}" for k, v in presets.env_tuning(env).items())
        print(f"preset: {name} ({why}{f'; {tuned} as measured for it' if tuned else ''})")
    return cfg


def cache_compiled_programs() -> None:
    """JAX's persistent cache, as training turns it on: a second `eval` or `watch` of the
    same shapes skips XLA's compile."""
    import jax

    from purejaxdqn.run.compilation_cache import enable_compilation_cache

    if not jax.config.jax_compilation_cache_dir:  # type: ignore[attr-defined]
        enable_compilation_cache()


def devices(args: argparse.Namespace) -> list | None:
    """Starts the multi-process runtime if asked; the devices to shard over."""
    import jax

    given = args.coordinator or args.num_processes is not None or args.process_id is not None
    if args.distributed or given:
        _initialize_distributed(args)
    if args.devices is None:
        return None
    available = jax.devices()
    if not 1 <= args.devices <= len(available):
        raise UsageError(f"--devices: must be in 1..{len(available)}, got {args.devices}")
    return available[: args.devices]


def _initialize_distributed(args: argparse.Namespace) -> None:
    from purejaxdqn.run import sharding

    if args.process_id is not None and args.num_processes is not None:
        if not 0 <= args.process_id < args.num_processes:
            raise UsageError(
                f"--process-id: must be in 0..{args.num_processes - 1}, got {args.process_id}"
            )
    try:
        sharding.initialize_distributed(
            args.coordinator, args.num_processes, args.process_id, args.heartbeat_timeout
        )
    except (RuntimeError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise UsageError(
            f"--distributed: jax.distributed.initialize failed ({first}); give --coordinator "
            f"HOST:PORT, --num-processes and --process-id, or run under SLURM / Open MPI"
        ) from None
