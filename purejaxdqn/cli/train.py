"""`purejaxdqn train`: every seed at once, into a run directory, with checkpoints,
progress and resume. `purejaxdqn sweep` is the same with settings (cli/sweep.py)."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from purejaxdqn import __version__
from purejaxdqn.cli.common import (
    CONFIG_FLAGS,
    FORMATTER,
    UsageError,
    add_train_options,
    devices,
    resolve_config,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train", help="train all seeds at once and write a run directory", formatter_class=FORMATTER
    )
    add_train_options(p)
    p.set_defaults(handler=command)


class Session(NamedTuple):
    """A run directory being trained: what `start` or `resume` set up."""

    config: Any  # DQNConfig
    info: dict[str, Any]  # run.json: seeds, base seed, chunks, settings, network
    out: Path
    runner: Any  # run.runner.ChunkedRun, compiled
    state: Any  # the device state to continue from, or None for a fresh start
    spent: dict[str, float]  # wall and compile seconds of earlier launches
    compile_s: float


def command(args: argparse.Namespace) -> int:
    """`train` and `sweep`: start or resume, then train; Ctrl-C or SIGTERM finish the
    chunk in flight, checkpoint and exit (a second one kills)."""
    _check_log_flags(args)
    chosen = devices(args)  # first: no JAX backend may start before jax.distributed
    with contextlib.ExitStack() as held:  # the run directory's lock, however this ends
        if args.resume is not None:
            session = resume(args, chosen, held)
        else:
            session = start(args, chosen, held)
        with _stop_on_signals() as stop:
            return train(args, session, stop)


def _check_log_flags(args: argparse.Namespace) -> None:
    if args.log_seeds is not None and args.log_seeds < 0:
        raise UsageError(f"--log-seeds: must be >= 0, got {args.log_seeds}")
    if args.log_seeds is not None and not args.log and args.resume is None:
        raise UsageError("--log-seeds needs --log tensorboard or --log wandb")
    if "wandb" in (args.log or []):  # before anything is compiled or written
        from purejaxdqn.run.loggers import import_wandb

        import_wandb()


def lock_run_dir(out: Path, held: contextlib.ExitStack) -> None:
    """Process 0 locks `out` until `held` closes (one writer per run directory); every
    process learns whether it could, so that all end together when another writer has it."""
    from purejaxdqn.run import lock, sharding

    refused = None
    if sharding.is_writer():
        try:
            held.callback(lock.acquire(out).release)
        except lock.Locked as error:
            refused = error
    if not sharding.agree(refused is None):
        raise refused or lock.Locked(f"{out}: process 0 found another writer of it")


def start(args: argparse.Namespace, chosen: list | None, held: contextlib.ExitStack) -> Session:
    """A new run directory: the config validated and the memory checked before anything
    is written."""
    from purejaxdqn.run import run_dir, sharding, torso_record
    from purejaxdqn.run.runner import ChunkedRun

    if args.keep_checkpoints < 1:
        raise UsageError(f"--keep-checkpoints: must be >= 1, got {args.keep_checkpoints}")
    cfg = resolve_config(args)
    out = args.out or Path("runs") / f"{cfg.env_id}-{time.strftime('%Y%m%d-%H%M%S')}"
    writer = sharding.is_writer()

    def refuse_a_used_directory() -> None:
        if writer and out.exists() and any(out.iterdir()) and not args.force:
            raise UsageError(f"--out {out}: already exists and is not empty; pass --force")

    sharding.together("checking --out", refuse_a_used_directory)
    torso = torso_record.load(args.network) if args.network else None
    info: dict[str, Any] = {"num_seeds": args.seeds, "seed": args.seed, "chunks": args.chunks}
    if torso is not None:
        info["network"] = torso_record.record(torso)
    if args.log:
        info["log"] = list(dict.fromkeys(args.log))
        info["log_seeds"] = 8 if args.log_seeds is None else args.log_seeds
    if hasattr(args, "make_settings"):  # sweep
        info["settings"] = args.make_settings(args, cfg)
    runner = ChunkedRun(
        cfg,
        args.seeds,
        args.seed,
        args.chunks,
        settings=info.get("settings"),
        devices=chosen,
        network=torso,
    )
    _check_memory(runner, cfg, args.seeds, show=writer)
    lock_run_dir(out, held)

    def prepare() -> None:
        if writer:
            if out.exists():  # --force: nothing of the old run may mix into the new one
                for stale in ("summary.json", "metrics.csv", "learning_curve.png"):
                    (out / stale).unlink(missing_ok=True)
                shutil.rmtree(out / run_dir.CHECKPOINTS, ignore_errors=True)
            run_dir.start(out, cfg, info)

    sharding.together("writing the run directory", prepare)
    sharding.check_shared_directory(out)
    spent = {"wall_time_s": 0.0, "compile_time_s": 0.0}
    return Session(cfg, info, out, runner, None, spent, runner.compile())


def resume(args: argparse.Namespace, chosen: list | None, held: contextlib.ExitStack) -> Session:
    """An interrupted run directory, from its latest checkpoint (or from the start), on
    this job's devices whatever the devices it was saved from."""
    from purejaxdqn.run import checkpoint, run_dir, sharding, torso_record
    from purejaxdqn.run.runner import ChunkedRun

    given = [f"--{f.replace('_', '-')}" for f in CONFIG_FLAGS if getattr(args, f) is not None]
    if given or args.set:
        flags = " ".join(given + ["--set"] * bool(args.set))
        raise UsageError(f"--resume continues a run as it was configured; drop {flags}")
    out = args.resume
    cfg, info = run_dir.load_run(out)
    lock_run_dir(out, held)
    if (out / "summary.json").exists():
        raise UsageError(f"--resume {out}: the run has finished already (summary.json exists)")
    runner = ChunkedRun(
        cfg,
        info["num_seeds"],
        info["seed"],
        info["chunks"],
        settings=info.get("settings"),
        devices=chosen,
        network=torso_record.rebuild(info.get("network")),
    )
    sharding.check_shared_directory(out)
    found = checkpoint.latest(out / run_dir.CHECKPOINTS)
    header: dict[str, Any] = {}
    state = None
    if found is not None:
        mgr, step = found
        with contextlib.closing(mgr):
            header = checkpoint.read_meta(mgr, step)
            run_dir.check_header(header, cfg, mgr.directory / str(step), info.get("network"))
            layout = runner.saved_layout(int(header["padded_runs"]))
            state = runner.from_saved(checkpoint.restore_state(mgr, step, header, layout))
    else:  # stopped before its first checkpoint: start it again, identically
        print(
            f"purejaxdqn train: {out} has no checkpoint yet; starting it from the beginning",
            file=sys.stderr,
        )
    spent = {k: float(header.get(k, 0.0)) for k in ("wall_time_s", "compile_time_s")}
    return Session(cfg, info, out, runner, state, spent, runner.compile())


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[list[int]]:
    """Records SIGINT and SIGTERM in the list it yields (the run stops after the chunk in
    flight); a second one of the same kind kills as usual. In a multi-process run JAX's
    preemption service keeps SIGTERM (`sharding.preempted`; a second one does not kill)."""
    from purejaxdqn.run import sharding

    stop: list[int] = []

    def request_stop(signum, frame):
        stop.append(signum)
        signal.signal(signum, signal.SIG_DFL)

    caught = (signal.SIGINT,) if sharding.preemption_service() else (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, request_stop) for sig in caught}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_memory(runner: Any, cfg: Any, num_seeds: int, show: bool = True) -> None:
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


class _Checkpoints:
    """Writes the session's checkpoints (orbax, asynchronous): every process its shards."""

    def __init__(self, session: Session, started: float, keep: int):
        from purejaxdqn.run import checkpoint, run_dir

        self.session, self.started, self.last = session, started, started
        self.manager = checkpoint.manager(session.out / run_dir.CHECKPOINTS, keep=keep)
        latest = self.manager.latest_step()
        self.number = 0 if latest is None else latest + 1

    def save(self, state: Any, small: Any = None) -> None:
        """`small`: `runner.progress(state)` where the caller has it already."""
        import jax

        from purejaxdqn.run import checkpoint, sharding

        s = self.session
        small = s.runner.progress(state) if small is None else small
        period = int(np.max(small.progress.period))
        header = {
            "config": s.config.to_dict(),
            "run": s.info,
            "network": s.info.get("network"),
            "purejaxdqn": __version__,
            "jax": jax.__version__,
            "key_impl": s.config.key_impl,
            "num_runs": s.runner.num_runs,
            "padded_runs": int(jax.tree.leaves(state)[0].shape[0]),
            "period": period,
            "wall_time_s": s.spent["wall_time_s"] + time.perf_counter() - self.started,
            "compile_time_s": s.spent["compile_time_s"] + s.compile_s,
        }
        params = state.learner.params
        sharding.together(
            "saving a checkpoint",
            lambda: checkpoint.save(self.manager, self.number, state, params, header),
        )
        self.number += 1
        self.last = time.perf_counter()

    def close(self) -> None:
        """Waits for the save in flight (its error, if any, raised here)."""
        from purejaxdqn.run import checkpoint, sharding

        try:
            sharding.together("saving a checkpoint", lambda: checkpoint.wait(self.manager))
        finally:
            self.manager.close()


def make_loggers(args: argparse.Namespace, session: Session) -> Any:
    """The run's loggers (process 0's; None elsewhere or without --log): --log and
    --log-seeds as given, else, resuming, as the run was started with."""
    from purejaxdqn.run import loggers, sharding

    backends = args.log or session.info.get("log") or []
    log_seeds = args.log_seeds if args.log_seeds is not None else session.info.get("log_seeds", 8)

    def start() -> Any:
        if not backends or not sharding.is_writer():
            return None
        config = {**session.config.to_dict(), "num_seeds": session.info["num_seeds"]}
        return loggers.Loggers(
            backends,
            session.out,
            config,
            session.info["num_seeds"],
            session.info.get("settings"),
            log_seeds,
        )

    return sharding.together("starting the loggers", start)


def train(args: argparse.Namespace, session: Session, stop: list[int]) -> int:
    """Runs the chunks with checkpoints, progress and logging, then writes the results;
    the save in flight is waited for, and the loggers closed, however this ends."""
    logs = make_loggers(args, session)
    checkpoints = _Checkpoints(session, time.perf_counter(), args.keep_checkpoints)
    summary: list[dict] = []
    try:
        return _train(args, session, stop, checkpoints, logs, summary)
    finally:
        try:
            checkpoints.close()
        finally:
            if logs is not None:
                logs.finish(summary[0] if summary else None)


def _train(
    args: argparse.Namespace,
    session: Session,
    stop: list[int],
    checkpoints: _Checkpoints,
    logs: Any,
    summary: list[dict],
) -> int:
    from purejaxdqn.run import checkpoint, sharding
    from purejaxdqn.run.runner import PlainProgress, describe, planned_steps, progress_bar

    runner = session.runner
    state = runner.init() if session.state is None else session.state
    steps = int(np.sum(runner.progress(state).progress.env_step))  # no buffers copied
    quiet = args.no_progress or not sharding.is_writer()
    terminal = sys.stdout.isatty()
    bar = progress_bar(session.config, runner.num_runs, steps) if terminal and not quiet else None
    plain = PlainProgress(session.config) if not terminal and not quiet else None
    last = [time.perf_counter(), steps]  # the previous chunk's end: time, env steps
    chunks = [0]  # chunks this launch has run: the preemption sync point's step
    logging_on = bool(args.log or session.info.get("log"))  # the same on every process

    def after_chunk(state: Any) -> bool:
        # Gathers (every process takes part): the small fields, read by the checkpoint's
        # position, the progress display and the loggers; whether every run has ended.
        small, done = runner.progress(state), runner.is_done(state)
        now, total = time.perf_counter(), int(np.sum(small.progress.env_step))
        rate = (total - last[1]) / max(now - last[0], 1e-9)
        last[:] = [now, total]
        if logging_on:  # process 0 writes the curves; an error there ends every process
            sharding.together("logging", lambda: logs and logs.log(small.progress, rate))
        # As often as --checkpoint-every asks, decided by process 0 for all processes.
        due = time.perf_counter() - checkpoints.last >= args.checkpoint_every
        if sharding.agree(due) and not done:
            checkpoints.save(state, small)
        if bar is not None:  # process 0 shows the progress
            bar.total = planned_steps(session.config, small)  # follows seeds that froze
            bar.n = int(np.sum(small.progress.env_step))
            bar.set_postfix(describe(small))
            bar.refresh()
        if plain is not None:
            plain.update(small, force=done)
        chunks[0] += 1
        # A signal to any process stops them all after this chunk: Ctrl-C (and SIGTERM in
        # one process) through our own sync point, SIGTERM across processes through JAX's.
        if sharding.any_process(bool(stop)) or sharding.preempted(chunks[0]):
            stopped.append(stop[0] if stop else signal.SIGTERM)
        return not stopped

    stopped: list[int] = []
    state = runner.run(state, after_chunk)
    if bar is not None:
        bar.close()
    if stopped and not runner.is_done(state):
        checkpoints.save(state)
        checkpoint.wait(checkpoints.manager)
        steps = int(np.max(runner.progress(state).progress.env_step))
        print(
            f"purejaxdqn train: stopped at env step {steps} per seed; checkpoint saved. "
            f"Continue with: purejaxdqn train --resume {session.out}",
            file=sys.stderr,
        )
        return 128 + stopped[0]
    checkpoints.save(state)  # the final state: eval, watch and load_policy read its parameters
    result = runner.finish(state, keep_state=False)
    summary.extend(_write_results(args, session, result, checkpoints.started))
    return 0


def _write_results(
    args: argparse.Namespace, session: Session, result: Any, started: float
) -> list[dict]:
    """Writes the results (process 0); returns [summary] there, [] elsewhere."""
    from purejaxdqn.run import run_dir, sharding

    wall = session.spent["wall_time_s"] + time.perf_counter() - started
    timings = {
        "compile_time_s": session.spent["compile_time_s"] + session.compile_s,
        "wall_time_s": wall,
        "env_steps_per_s": float(np.sum(result.state.progress.env_step)) / wall,
    }

    def write() -> list[dict]:
        if not sharding.is_writer():
            return []
        out, cfg, info = session.out, session.config, session.info
        summary = run_dir.write(out, cfg, result, timings, info, plot=not args.no_plot)
        print(run_dir.format_summary(summary))
        print(f"run directory: {out}")
        return [summary]

    return sharding.together("writing the results", write)
