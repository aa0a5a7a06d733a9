"""The run directory: config.json, run.json, checkpoints/, metrics.csv, summary.json,
learning_curve.png.

config.json and run.json (seeds, base seed, chunks) are written when a run starts, so an
interrupted run can be resumed; the results are written when it ends.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np

from purejaxdqn.config import DQNConfig
from purejaxdqn.run.reporting import seed_summaries
from purejaxdqn.train import TrainResult

RUN_FILE = "run.json"
CHECKPOINTS = "checkpoints"


class RunDirError(ValueError):
    """A path that is not a usable run directory."""


def start(out: Path, config: DQNConfig, run_info: dict[str, Any]) -> None:
    """Creates the run directory with what a resume needs."""
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "config.json", config.to_json() + "\n")
    write_atomic(out / RUN_FILE, json.dumps(run_info, indent=2) + "\n")


def load_run(path: Path) -> tuple[DQNConfig, dict[str, Any]]:
    """The config and run info of a run directory, with one-line errors for anything else."""
    if not path.exists():
        raise RunDirError(f"{path}: run directory does not exist")
    if not (path / "config.json").is_file() or not (path / RUN_FILE).is_file():
        raise RunDirError(f"{path}: not a purejaxdqn run directory (no config.json and run.json)")
    try:
        config = DQNConfig.from_json((path / "config.json").read_text())
        info = json.loads((path / RUN_FILE).read_text())
        settings, network = info.get("settings"), info.get("network")
        log, log_seeds = info.get("log"), info.get("log_seeds")
        info = {k: int(info[k]) for k in ("num_seeds", "seed", "chunks")}
        if log is not None:
            info["log"], info["log_seeds"] = [str(b) for b in log], int(log_seeds)
        if settings is not None:
            info["settings"] = [{str(k): float(v) for k, v in s.items()} for s in settings]
        if network is not None:
            info["network"] = {"class": str(network["class"]), **network}
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise RunDirError(f"{path}: damaged run files ({type(error).__name__}: {error})") from None
    return config, info


def checkpoints_dir(path: Path) -> Path:
    """RUN_DIR/checkpoints: orbax's numbered checkpoints (run/checkpoint.py)."""
    return path / CHECKPOINTS


def check_header(
    header: dict[str, Any], config: DQNConfig, path: Path, network: dict | None = None
) -> None:
    """Refuses a checkpoint written for another config, torso (`network`: its record) or
    purejaxdqn version, naming what differs."""
    from purejaxdqn import __version__

    # The version first: an older release's config lacks the fields added since.
    if header.get("purejaxdqn") != __version__:
        raise RunDirError(
            f"{path}: checkpoint written by purejaxdqn {header.get('purejaxdqn')}, this is "
            f"{__version__}; resume it with that version"
        )
    saved = header.get("config", {})
    current = config.to_dict()
    differ = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if differ:
        raise RunDirError(
            f"{path}: checkpoint is for another config (fields differ: {', '.join(differ)})"
        )
    if header.get("network") != network:
        raise RunDirError(
            f"{path}: checkpoint is for another torso ({header.get('network')}, this run's: "
            f"{network})"
        )


def load_params(path: Path, network: Any = None) -> tuple[DQNConfig, Any, Any]:
    """Config, (seeds, ...) Q-network parameters (numpy) and torso (None: the config's
    built-in one) of a run's latest complete checkpoint: its params item alone, read by
    this process without the buffers, the trainer or the devices it was saved from.
    `network`: the run's torso module, where its record cannot be rebuilt (a class
    defined in a notebook)."""
    from purejaxdqn.run import checkpoint, torso_record

    config, info = load_run(path)
    if network is None:
        network = torso_record.rebuild(info.get("network"))
    found = checkpoint.latest(checkpoints_dir(path))
    if found is None:
        raise RunDirError(f"{path}: no checkpoint yet (the run has not saved one)")
    mgr, step = found
    with contextlib.closing(mgr):
        meta = checkpoint.read_meta(mgr, step)
        check_header(meta, config, mgr.directory / str(step), info.get("network"))
        params = checkpoint.restore_params(mgr, step, meta)
    runs = int(meta["num_runs"])
    return config, jax.tree.map(lambda x: x[:runs], params), network


METRIC_COLUMNS = (
    "run",
    "setting",
    "seed",
    "period",
    "env_step",
    "episode_return_mean",
    "episodes",
    "eval_return_mean",
    "eval_return_std",
    "loss",
    "epsilon",
    "frozen",
    "diverged",
    "wall_time_s",
)


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file, then rename: a crash never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def metrics_rows(result: TrainResult, wall_time_s: float, num_seeds: int) -> list[dict[str, Any]]:
    """One row per run per period it actually trained (not after it froze or diverged).

    Runs are setting-major: run r is seed r % num_seeds of setting r // num_seeds.
    """
    m = {k: np.asarray(v) for k, v in result.metrics._asdict().items()}
    periods_run = np.asarray(result.state.progress.period)
    num_runs = m["env_step"].shape[0]
    periods_in_run = max(int(periods_run.max()), 1)  # the program returned after these
    rows = []
    for s in range(num_runs):
        for p in range(int(periods_run[s])):
            rows.append(
                {
                    "run": s,
                    "setting": s // num_seeds,
                    "seed": s % num_seeds,
                    "period": p,
                    "env_step": int(m["env_step"][s, p]),
                    "episode_return_mean": float(m["episode_return_mean"][s, p]),
                    "episodes": int(m["episodes"][s, p]),
                    "eval_return_mean": float(m["eval_return_mean"][s, p]),
                    "eval_return_std": float(m["eval_return_std"][s, p]),
                    "loss": float(m["loss"][s, p]),
                    "epsilon": float(m["epsilon"][s, p]),
                    "frozen": bool(m["frozen"][s, p]),
                    "diverged": bool(m["diverged"][s, p]),
                    # chunks of compiled periods: wall time is apportioned by period
                    "wall_time_s": round(wall_time_s * (p + 1) / periods_in_run, 4),
                }
            )
    return rows


def summary_dict(
    config: DQNConfig, result: TrainResult, timings: dict[str, float], info: dict[str, Any]
) -> dict:
    seeds = seed_summaries(result)
    return {
        "env_id": config.env_id,
        "num_seeds": info["num_seeds"],
        "num_runs": len(seeds),
        "settings": info.get("settings"),
        "total_timesteps": config.total_timesteps,
        "solve_threshold": config.resolved_solve_threshold,
        "final_eval_return": [s["final_eval_return"] for s in seeds],
        "solved": [s["solved"] for s in seeds],
        "solve_env_step": [s["solve_env_step"] for s in seeds],
        "notebook_solve_env_step": [s["notebook_solve_env_step"] for s in seeds],
        "frozen": [s["frozen"] for s in seeds],
        "diverged": [s["diverged"] for s in seeds],
        "diverged_env_step": [s["diverged_env_step"] for s in seeds],
        "env_steps": [s["env_steps"] for s in seeds],
        "compile_time_s": round(timings["compile_time_s"], 3),
        "wall_time_s": round(timings["wall_time_s"], 3),
        "env_steps_per_s": round(timings["env_steps_per_s"], 1),
        "device": str(jax.devices()[0].device_kind),
        "versions": versions(),
    }


def write(
    out: Path,
    config: DQNConfig,
    result: TrainResult,
    timings: dict[str, float],
    info: dict[str, Any],
    plot: bool = True,
) -> dict:
    rows = metrics_rows(result, timings["wall_time_s"], info["num_seeds"])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    summary = summary_dict(config, result, timings, info)
    write_atomic(out / "config.json", config.to_json() + "\n")
    write_atomic(out / "metrics.csv", buf.getvalue())
    write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    if info.get("settings") is not None:
        from purejaxdqn.run.sweep import sweep_rows

        table = sweep_rows(info["settings"], seed_summaries(result), info["num_seeds"])
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
        write_atomic(out / "sweep.csv", buf.getvalue())
        summary["sweep"] = table
    if plot:
        from purejaxdqn.run.plotting import plot_learning_curve, plot_sweep

        plot_learning_curve(result, out / "learning_curve.png")
        if info.get("settings") is not None:
            plot_sweep(summary["sweep"], config, out / "sweep.png")
    return summary


def versions() -> dict[str, str]:
    """purejaxdqn's, JAX's and gymnax's versions (summary.json and `purejaxdqn bench`)."""
    from importlib import metadata

    import purejaxdqn

    try:
        gymnax = metadata.version("gymnax")
    except metadata.PackageNotFoundError:
        gymnax = "unknown"
    return {"purejaxdqn": purejaxdqn.__version__, "jax": jax.__version__, "gymnax": gymnax}


def format_summary(summary: dict) -> str:
    runs = len(summary["solved"])
    what = f"{runs} seeds"
    if summary.get("settings"):
        what = f"{len(summary['settings'])} settings x {summary['num_seeds']} seeds"
    lines = [
        f"{summary['env_id']}: {what}, "
        f"{sum(summary['solved'])}/{runs} solved "
        f"(greedy eval >= {summary['solve_threshold']})",
        f"compile {summary['compile_time_s']:.1f} s, train {summary['wall_time_s']:.1f} s, "
        f"{summary['env_steps_per_s']:,.0f} env steps/s",
        "seed  final_eval_return  solved  solve_env_step",
    ]
    for i, (ret, ok, step) in enumerate(
        zip(summary["final_eval_return"], summary["solved"], summary["solve_env_step"], strict=True)
    ):
        lines.append(f"{i:>4}  {ret:>17.1f}  {str(ok):>6}  {step if step is not None else '-':>14}")
    for row in summary.get("sweep", []):
        values = ", ".join(f"{k}={row[k]:.4g}" for k in summary["settings"][0])
        lines.append(
            f"setting {row['setting']}: {values}: solve rate {row['solve_rate']:.2f}, IQM "
            f"{row['iqm_return']:.1f} [{row['iqm_ci_low']:.1f}, {row['iqm_ci_high']:.1f}]"
        )
    for i, step in enumerate(summary.get("diverged_env_step", [])):
        if step is not None:
            lines.append(f"seed {i} diverged at env step {step}: its learning stopped there")
    return "\n".join(lines)
