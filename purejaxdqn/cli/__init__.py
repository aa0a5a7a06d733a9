"""The `purejaxdqn` command (also `python -m purejaxdqn`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from purejaxdqn import __version__
from purejaxdqn import config as config_mod


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():  # restores Python's own display afterwards
            warnings.showwarning = _one_line_warning
            return args.handler(args)
    except (UsageError, ValueError) as error:
        print(f"purejaxdqn {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # disk full, permission denied, ...
        print(f"purejaxdqn {args.command}: error: {error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"purejaxdqn {args.command}: interrupted", file=sys.stderr)
        return 130


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning during a command, as one line (not Python's file:line and source line)."""
    print(f"purejaxdqn: warning: {message}", file=sys.stderr if file is None else file)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="purejaxdqn", description="Deep Q-learning in pure, functional JAX."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = argparse.ArgumentDefaultsHelpFormatter
    train = sub.add_parser(
        "train", help="train all seeds at once and write a run directory", formatter_class=fmt
    )
    _add_train_options(train)
    train.set_defaults(handler=cmd_train)

    sweep = sub.add_parser(
        "sweep",
        help="train settings of the traced hyperparameters x seeds in one compiled program",
        formatter_class=fmt,
    )
    _add_train_options(sweep)
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="FIELD=V1,V2",
        help="values of a traced field; several --grid make their product (repeatable)",
    )
    sweep.add_argument("--random", type=int, default=0, help="random settings drawn from --range")
    sweep.add_argument(
        "--range",
        action="append",
        default=[],
        metavar="FIELD=LOW:HIGH[:log]",
        help="range of a traced field for --random (repeatable)",
    )
    sweep.set_defaults(handler=cmd_train)

    ev = sub.add_parser(
        "eval", help="greedy return of each seed of a saved run", formatter_class=fmt
    )
    ev.add_argument("run_dir", type=Path, help="a run directory written by `purejaxdqn train`")
    ev.add_argument("--episodes", type=int, default=100, help="fresh episodes per seed")
    ev.add_argument(
        "--backend",
        choices=("gymnax", "gymnasium"),
        default="gymnax",
        help="gymnax (vmapped, in JAX) or gymnasium's own environment (a Python loop)",
    )
    ev.add_argument("--seed", type=int, default=0, help="random seed of the evaluation episodes")
    ev.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ev.set_defaults(handler=cmd_eval)

    watch = sub.add_parser(
        "watch", help="render one greedy episode of a saved run to a GIF", formatter_class=fmt
    )
    watch.add_argument("run_dir", type=Path, help="a run directory written by `purejaxdqn train`")
    watch.add_argument("--seed-index", type=int, default=0, help="which seed's agent plays")
    watch.add_argument("--out", type=Path, default=Path("agent.gif"), help="GIF file to write")
    watch.add_argument("--seed", type=int, default=0, help="random seed of the episode")
    watch.add_argument("--max-steps", type=int, default=500, help="stop the episode after this")
    watch.add_argument("--human", action="store_true", help="also show it in a window")
    watch.set_defaults(handler=cmd_watch)

    inspect = sub.add_parser(
        "inspect",
        help="an environment's spaces and a random policy's return",
        formatter_class=fmt,
    )
    inspect.add_argument("env_id", help="gymnax environment id, e.g. CartPole-v1")
    inspect.add_argument("--episodes", type=int, default=100, help="random-policy episodes")
    inspect.add_argument("--seed", type=int, default=0, help="random seed")
    inspect.set_defaults(handler=cmd_inspect)
    return parser


def _add_train_options(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--no-plot", action="store_true", help="skip learning_curve.png (no matplotlib needed)"
    )
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue an interrupted run from its latest checkpoint (takes no other config flags)",
    )
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
        "(SLURM, Open MPI, Kubernetes); only process 0 writes the run directory",
    )
    dev.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    dev.add_argument("--num-processes", type=int, help="processes in the job")
    dev.add_argument("--process-id", type=int, help="this process's index, 0 .. N-1")


# ------------------------------------------------------------------ config


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
    elif getattr(args, "preset", None) is not None:
        cfg = presets.get(args.preset)
    else:
        name, cfg = presets.for_env(args.env or presets.get(presets.DEFAULT).env_id)
        if args.env is not None:
            why = (
                f"{args.env}'s preset"
                if presets.ENV_PRESETS.get(args.env) == name
                else f"the default; {args.env} has no preset of its own"
            )
            print(f"preset: {name} ({why})")
    changes = parse_set(args.set)
    if args.env is not None:
        changes["env_id"] = args.env
    if args.total_timesteps is not None:
        changes["total_timesteps"] = args.total_timesteps
    if args.solve_threshold is not None:
        changes["solve_threshold"] = args.solve_threshold
    return cfg.replace(**changes) if changes else cfg


# ------------------------------------------------------------------- train

_CONFIG_FLAGS = ("config", "env", "total_timesteps", "solve_threshold", "out")


def _devices(args: argparse.Namespace) -> list | None:
    """Starts the multi-process runtime if asked; the devices to shard over."""
    import jax

    from purejaxdqn.run import sharding

    given = args.coordinator or args.num_processes is not None or args.process_id is not None
    if args.distributed or given:
        if args.process_id is not None and args.num_processes is not None:
            if not 0 <= args.process_id < args.num_processes:
                raise UsageError(
                    f"--process-id: must be in 0..{args.num_processes - 1}, got {args.process_id}"
                )
        try:
            sharding.initialize_distributed(args.coordinator, args.num_processes, args.process_id)
        except (RuntimeError, ValueError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            raise UsageError(
                f"--distributed: jax.distributed.initialize failed ({first}); give --coordinator "
                f"HOST:PORT, --num-processes and --process-id, or run under SLURM / Open MPI"
            ) from None
    if args.devices is None:
        return None
    available = jax.devices()
    if not 1 <= args.devices <= len(available):
        raise UsageError(f"--devices: must be in 1..{len(available)}, got {args.devices}")
    return available[: args.devices]


def cmd_train(args: argparse.Namespace) -> int:
    import signal

    devices = _devices(args)  # first: no JAX backend may start before jax.distributed

    from purejaxdqn.run import checkpoint, run_dir, sharding
    from purejaxdqn.run.runner import ChunkedRun

    writer = sharding.is_writer()

    if args.resume is not None:
        given = [f"--{f.replace('_', '-')}" for f in _CONFIG_FLAGS if getattr(args, f) is not None]
        if args.set:
            given.append("--set")
        if given:
            raise UsageError(
                f"--resume continues a run as it was configured; drop {' '.join(given)}"
            )
        out = args.resume
        cfg, info = run_dir.load_run(out)
        if (out / "summary.json").exists():
            raise UsageError(f"--resume {out}: the run has finished already (summary.json exists)")
        runner = ChunkedRun(
            cfg,
            info["num_seeds"],
            info["seed"],
            info["chunks"],
            settings=info.get("settings"),
            devices=devices,
        )
        ckpt = run_dir.checkpoint_path(out)
        if ckpt.exists():
            header = checkpoint.read_header(ckpt)
            run_dir.check_header(header, cfg, ckpt)
            state, _ = checkpoint.load(ckpt, runner.template, cfg.key_impl)
            state = runner.load(state)
        else:  # stopped before its first checkpoint: start it again, identically
            print(
                f"purejaxdqn train: {out} has no checkpoint yet; starting it from the beginning",
                file=sys.stderr,
            )
            header, state = {}, None
        compile_s = runner.compile()
        spent = {k: float(header.get(k, 0.0)) for k in ("wall_time_s", "compile_time_s")}
    else:
        cfg = resolve_config(args)
        out = args.out or Path("runs") / f"{cfg.env_id}-{time.strftime('%Y%m%d-%H%M%S')}"
        if writer and out.exists() and any(out.iterdir()) and not args.force:
            raise UsageError(
                f"--out {out}: already exists and is not empty; pass --force to overwrite"
            )
        info = {"num_seeds": args.seeds, "seed": args.seed, "chunks": args.chunks}
        if args.command == "sweep":
            from purejaxdqn.run import sweep

            grid = sweep.parse_grid(args.grid)
            ranges = sweep.parse_ranges(args.range)
            if not grid and not ranges:
                raise UsageError("sweep: give at least one --grid or --range")
            info["settings"] = sweep.make_settings(cfg, grid, ranges, args.random, args.seed)
        # validates everything before anything is written
        runner = ChunkedRun(
            cfg,
            args.seeds,
            args.seed,
            args.chunks,
            settings=info.get("settings"),
            devices=devices,
        )
        _check_memory(runner, cfg, args.seeds, show=writer)
        if writer:
            if out.exists():  # --force: nothing of the old run may mix into the new one
                for stale in ("summary.json", "metrics.csv", "learning_curve.png"):
                    (out / stale).unlink(missing_ok=True)
                run_dir.checkpoint_path(out).unlink(missing_ok=True)
            run_dir.start(out, cfg, info)
        compile_s = runner.compile()
        state = None
        spent = {"wall_time_s": 0.0, "compile_time_s": 0.0}

    # Ctrl-C or SIGTERM: finish the chunk in flight, checkpoint, exit. A second one kills.
    stop: list[int] = []

    def request_stop(signum, frame):
        stop.append(signum)
        signal.signal(signum, signal.SIG_DFL)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _train_loop(args, cfg, info, out, runner, state, compile_s, spent, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_memory(runner, cfg, num_seeds: int, show: bool = True) -> None:
    """Prints the memory estimate; refuses a run whose state cannot fit."""
    from purejaxdqn.run import memory

    plan = memory.plan(runner.template, cfg.buffer_size, runner.num_runs, num_seeds)
    if show:
        print(memory.describe(plan, runner.num_runs))
    if not plan["fits"]:
        most = plan["max_seeds"]
        hint = (
            f"at most {most} seeds fit (--seeds {most})"
            if most
            else "not even one seed fits: lower buffer_size"
        )
        raise UsageError(
            f"the run needs about {memory.format_bytes(plan['state_bytes'] * memory.OVERHEAD)} but "
            f"{memory.format_bytes(plan['available_bytes'])} is available; {hint}"
        )


def _train_loop(args, cfg, info, out, runner, state, compile_s, spent, stop) -> int:
    """Runs the chunks with checkpoints and progress, then writes the results."""
    from purejaxdqn.run import checkpoint, run_dir, sharding
    from purejaxdqn.run.runner import describe, progress_bar

    start = last_save = time.perf_counter()
    if state is None:
        state = runner.init()
    writer = sharding.is_writer()  # in a multi-process run only process 0 writes
    small = runner.progress(state)  # no buffers: those leave the devices only to be saved
    bar = (
        None
        if args.no_progress or not writer
        else progress_bar(cfg, runner.num_runs, int(np.sum(small.progress.env_step)))
    )

    def save(state) -> None:
        nonlocal last_save
        host = runner.host(state)  # every process takes part in the gather
        if writer:
            _save(host)
        sharding.barrier("checkpoint")  # the others wait for process 0's write
        last_save = time.perf_counter()

    def _save(host) -> None:
        checkpoint.save(
            out / run_dir.CHECKPOINTS,
            host,
            {
                "config": cfg.to_dict(),
                "run": info,
                "purejaxdqn": __version__,
                "period": int(np.max(host.progress.period)),
                "wall_time_s": spent["wall_time_s"] + time.perf_counter() - start,
                "compile_time_s": spent["compile_time_s"] + compile_s,
            },
        )

    def after_chunk(state) -> bool:
        # Saving copies every buffer to the host (2 GB for 1024 cartpole seeds): only as
        # often as --checkpoint-every asks, decided by process 0 for all processes.
        due = time.perf_counter() - last_save >= args.checkpoint_every
        if sharding.agree(due) and not runner.is_done(state):
            save(state)
        if bar is not None:
            small = runner.progress(state)
            bar.n = int(np.sum(small.progress.env_step))
            bar.set_postfix(describe(small))
            bar.refresh()
        return not stop

    state = runner.run(state, after_chunk) if not stop else state
    if bar is not None:
        bar.close()
    if stop and not runner.is_done(state):
        save(state)
        steps = int(np.max(runner.progress(state).progress.env_step))
        print(
            f"purejaxdqn train: stopped at env step {steps} per seed; checkpoint saved. "
            f"Continue with: purejaxdqn train --resume {out}",
            file=sys.stderr,
        )
        return 128 + stop[0]
    save(state)  # the final state: eval, watch and load_policy read its parameters
    result = runner.finish(state, keep_state=False)
    wall = spent["wall_time_s"] + time.perf_counter() - start
    timings = {
        "compile_time_s": spent["compile_time_s"] + compile_s,
        "wall_time_s": wall,
        "env_steps_per_s": float(np.sum(result.state.progress.env_step)) / wall,
    }
    if writer:
        summary = run_dir.write(out, cfg, result, timings, info, plot=not args.no_plot)
        print(run_dir.format_summary(summary))
        print(f"run directory: {out}")
    return 0


# -------------------------------------------------------------------- eval


def cmd_eval(args: argparse.Namespace) -> int:
    import jax

    from purejaxdqn.run import run_dir
    from purejaxdqn.run.policy import policy_from_params, select_seed

    if args.episodes < 1:
        raise UsageError(f"--episodes: must be >= 1, got {args.episodes}")
    cfg, params = run_dir.load_params(args.run_dir)
    num_seeds = jax.tree.leaves(params)[0].shape[0]
    if args.backend == "gymnax":
        returns = _gymnax_returns(cfg, params, args.episodes, args.seed)
    else:
        try:
            import gymnasium
        except ImportError:
            raise UsageError("--backend gymnasium needs the gymnasium package installed") from None
        try:
            gym_env = gymnasium.make(cfg.env_id)
        except Exception:
            raise UsageError(
                f"--backend gymnasium: gymnasium has no {cfg.env_id}; use --backend gymnax"
            ) from None
        returns = np.stack(
            [
                _gymnasium_returns(
                    gym_env,
                    policy_from_params(cfg, select_seed(params, s, batched=True)),
                    args.episodes,
                    args.seed,
                )
                for s in range(num_seeds)
            ]
        )
    rows = [
        {"seed_index": s, "mean": float(r.mean()), "std": float(r.std()), "episodes": len(r)}
        for s, r in enumerate(np.asarray(returns))
    ]
    if args.json:
        print(json.dumps({"env_id": cfg.env_id, "backend": args.backend, "seeds": rows}, indent=2))
    else:
        print(f"{cfg.env_id}, {args.backend}, {args.episodes} greedy episodes per seed")
        print("seed      mean       std")
        for r in rows:
            print(f"{r['seed_index']:>4}  {r['mean']:>8.1f}  {r['std']:>8.1f}")
    return 0


def _gymnax_returns(cfg, params, episodes: int, seed: int) -> np.ndarray:
    import jax

    from purejaxdqn.agents import make_agent
    from purejaxdqn.core import envs
    from purejaxdqn.core.evaluation import make_evaluate

    env, env_params = envs.make_env(cfg.env_id)
    evaluate = make_evaluate(env, env_params, make_agent(cfg, env, env_params).q_values, episodes)
    num_seeds = jax.tree.leaves(params)[0].shape[0]
    keys = jax.random.split(jax.random.key(seed), num_seeds)
    return np.asarray(jax.jit(jax.vmap(evaluate))(keys, params))


def _gymnasium_returns(gym_env, policy, episodes: int, seed: int) -> np.ndarray:
    out = []
    for episode in range(episodes):
        obs, _ = gym_env.reset(seed=seed * 100_003 + episode)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = gym_env.step(policy(obs))
            total += float(reward)
            done = terminated or truncated
        out.append(total)
    return np.asarray(out)


# ------------------------------------------------------------------- watch


def cmd_watch(args: argparse.Namespace) -> int:
    import jax

    from purejaxdqn.core import envs
    from purejaxdqn.run import run_dir
    from purejaxdqn.run.policy import select_seed
    from purejaxdqn.run.watch import greedy_episode, render_gif

    if args.out.suffix.lower() != ".gif":
        raise UsageError(f"--out {args.out}: must end in .gif")
    cfg, params = run_dir.load_params(args.run_dir)
    params = select_seed(params, args.seed_index, batched=True)
    env, env_params = envs.make_env(cfg.env_id)
    states, total = greedy_episode(
        cfg, env, env_params, params, jax.random.key(args.seed), args.max_steps
    )
    try:
        render_gif(env, env_params, states, args.out, show=args.human)
    except ImportError as error:
        raise UsageError(f"rendering needs a missing package ({error})") from None
    except Exception as error:  # the renderers raise their own error types
        raise UsageError(f"cannot render {cfg.env_id}: {type(error).__name__}: {error}") from None
    print(
        f"{cfg.env_id}: seed {args.seed_index}, return {total:.1f} over "
        f"{len(states)} steps -> {args.out}"
    )
    return 0


# ----------------------------------------------------------------- inspect


def cmd_inspect(args: argparse.Namespace) -> int:
    import jax

    from purejaxdqn.core import envs
    from purejaxdqn.core.evaluation import make_random_returns

    if args.episodes < 1:
        raise UsageError(f"--episodes: must be >= 1, got {args.episodes}")
    env, env_params = envs.make_env(args.env_id)
    action_space = env.action_space(env_params)
    obs_space = env.observation_space(env_params)
    print(f"{args.env_id}")
    print(f"action space: {_space_str(action_space)}")
    print(f"observation space: {_space_str(obs_space)}")
    for i, name in enumerate(envs.observation_names(env, env_params)):
        low, high = np.ravel(obs_space.low)[i], np.ravel(obs_space.high)[i]
        print(f"  obs[{i}] {name}: [{low:.3g}, {high:.3g}]")
    try:
        num_actions = envs.num_discrete_actions(env, env_params)
    except ValueError as error:
        print(f"random policy: not evaluated ({error})")
        return 0
    returns = np.asarray(
        jax.jit(make_random_returns(env, env_params, num_actions, args.episodes))(
            jax.random.key(args.seed)
        )
    )
    print(
        f"random policy over {args.episodes} episodes: mean return {returns.mean():.2f} "
        f"(std {returns.std():.2f}, min {returns.min():.0f}, max {returns.max():.0f})"
    )
    return 0


def _space_str(space) -> str:
    name = type(space).__name__
    if hasattr(space, "n"):
        return f"{name}({int(space.n)})"
    return f"{name}(shape={tuple(space.shape)}, dtype={np.dtype(space.dtype).name})"


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
