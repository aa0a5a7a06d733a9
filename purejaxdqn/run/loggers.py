"""Curves for TensorBoard and Weights & Biases, written by process 0 from the host copy of
the metrics history after each chunk (never from inside the scan).

Every scalar is plotted against env steps. Per setting (one group without a sweep):
across-seed aggregates of each metric (mean, median, 25th and 75th percentiles), frozen and
diverged counts and env steps/s; and one curve per seed for the first `log_seeds` seeds,
so 4096 seeds do not make 4096 curves.

A resumed run recomputes, bit for bit, the periods between its checkpoint and the point
where it stopped: points at or below the last env step logged (kept in `LOGGED`) are
skipped, so the curves continue without repeats. (W&B ignores a step below the last it holds
and merges one equal to it, so a stop between its `log` and `LOGGED` repeats no row.)
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

BACKENDS = ("tensorboard", "wandb")
TB_DIR = "tb"  # RUN_DIR/tb: TensorBoard's event files
LOGGED = "logged.json"  # RUN_DIR/logged.json: the last env step logged, per backend
STEP_DIGITS = 12  # an event file's name ends in its first env step, zero-padded
METRICS = ("eval_return_mean", "eval_return_std", "episode_return_mean", "loss", "epsilon")
PERCENTILES = {"median": 50, "p25": 25, "p75": 75}  # beside the mean, over the seeds


class Point(NamedTuple):
    """Scalars of one curve group at one env step: `seed` None for the setting's
    aggregates, else the seed's own curve."""

    setting: int
    seed: int | None
    env_step: int
    values: dict[str, float]


def points(
    progress: Any,
    num_seeds: int,
    log_seeds: int,
    after_step: int,
    steps_per_s: float | None = None,
) -> list[Point]:
    """The points of every period that the runs have trained and that lies after
    `after_step`, period by period.

    progress: the host `Progress` of all runs, setting-major (run r is seed r % num_seeds
    of setting r // num_seeds), history leaves (runs, num_periods). A run contributes to a
    period's aggregates only if it trained that period (not after it froze or diverged).
    """
    h = progress.history
    trained = np.asarray(progress.period)  # (runs,) periods each run has trained
    env_step = np.asarray(h.env_step)  # (runs, num_periods)
    frozen, diverged = np.asarray(h.frozen), np.asarray(h.diverged)
    metrics = {m: np.asarray(getattr(h, m), np.float64) for m in METRICS}
    num_runs = len(trained)
    out: list[Point] = []
    for p in range(int(trained.max(initial=0))):
        for setting in range(num_runs // num_seeds):
            runs = np.arange(setting * num_seeds, (setting + 1) * num_seeds)
            active = runs[trained[runs] > p]
            if not len(active):
                continue
            step = int(env_step[active, p].max())
            if step <= after_step:
                continue
            last = np.minimum(p, np.maximum(trained[runs] - 1, 0))  # each run's flags then
            values: dict[str, float] = {
                "frozen": float(np.sum(frozen[runs, last] & (trained[runs] > 0))),
                "diverged": float(np.sum(diverged[runs, last] & (trained[runs] > 0))),
                "seeds_training": float(len(active)),
            }
            if steps_per_s is not None:
                values["env_steps_per_s"] = float(steps_per_s)
            with warnings.catch_warnings():  # all-NaN slices (loss during warm-up) give NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                for m, x in metrics.items():
                    column = x[active, p]
                    values[f"{m}/mean"] = float(np.nanmean(column))
                    for name, q in PERCENTILES.items():
                        values[f"{m}/{name}"] = float(np.nanpercentile(column, q))
            out.append(Point(setting, None, step, values))
            for run in active[active - runs[0] < log_seeds]:
                seed = int(run - runs[0])
                own = {m: float(metrics[m][run, p]) for m in METRICS}
                own.update(frozen=float(frozen[run, p]), diverged=float(diverged[run, p]))
                out.append(Point(setting, seed, int(env_step[run, p]), own))
    return out


def read_logged(out: Path) -> dict[str, int]:
    """The last env step each backend logged to this run directory ({} if none)."""
    try:
        return {str(k): int(v) for k, v in json.loads((out / LOGGED).read_text()).items()}
    except FileNotFoundError:
        return {}
    except (ValueError, AttributeError, TypeError):
        raise ValueError(f"{out / LOGGED}: damaged; delete it to log from the start") from None


class TensorBoard:
    """Event files under RUN_DIR/tb: the aggregates in tb/ (tb/setting_S/ in a sweep), each
    logged seed in a folder of its own below (tb/seed_I/), so TensorBoard overlays them.

    A chunk's points go into event files of their own, named after the chunk's first env
    step and closed before `LOGGED` moves on: tensorboardX writes from a thread and its
    `flush` does not wait for it, so only a closed writer's points are surely on disk. A
    stop between the closes and `LOGGED` leaves files past `after_step`: a resumed run
    deletes those, as it writes their points again."""

    name = "tensorboard"

    def __init__(self, out: Path, sweep: bool, after_step: int):
        self.root, self.sweep = out / TB_DIR, sweep
        for path in self.root.rglob("events.out.tfevents.*"):
            step = path.name.rsplit(".", 1)[-1]
            if step.isdigit() and len(step) == STEP_DIGITS and int(step) > after_step:
                path.unlink()

    def write(self, batch: list[Point]) -> None:
        from tensorboardX import SummaryWriter

        groups: dict[Path, list[Point]] = {}
        for point in batch:
            folder = self.root / f"setting_{point.setting}" if self.sweep else self.root
            if point.seed is not None:
                folder = folder / f"seed_{point.seed}"
            groups.setdefault(folder, []).append(point)
        suffix = f".{batch[0].env_step:0{STEP_DIGITS}d}"  # the batch's first (least) step
        for folder, group in groups.items():
            writer = SummaryWriter(str(folder), filename_suffix=suffix)
            for point in group:
                for tag, value in point.values.items():
                    writer.add_scalar(tag, value, point.env_step)
            writer.close()

    def finish(self, summary: dict[str, Any] | None) -> None:
        pass


def import_wandb() -> Any:
    """The wandb module, or a one-line error saying how to install it."""
    try:
        import wandb
    except ImportError:
        raise ValueError(
            "--log wandb needs the wandb package: pip install 'purejaxdqn[wandb]'"
        ) from None
    return wandb


class WandB:
    """One W&B run per training run (per setting of a sweep), resumed under the same id;
    WANDB_MODE=offline writes it under RUN_DIR/wandb for `wandb sync`."""

    name = "wandb"

    def __init__(self, out: Path, config: dict[str, Any], settings: list[dict] | None):
        wandb = import_wandb()
        ids_file = out / "wandb_ids.json"
        ids = json.loads(ids_file.read_text()) if ids_file.exists() else []
        count = len(settings) if settings else 1
        while len(ids) < count:
            ids.append(secrets.token_hex(4))  # W&B run ids: letters and digits
        ids_file.write_text(json.dumps(ids) + "\n")
        self.runs = []
        for s in range(count):
            name = out.name if settings is None else f"{out.name}/setting_{s}"
            run_config = {**config, **({"setting": s, **settings[s]} if settings else {})}
            self.runs.append(
                wandb.init(
                    project=_wandb_project(),
                    name=name,
                    id=ids[s],
                    dir=str(out),
                    config=run_config,
                    resume="allow",
                    reinit="create_new",
                )
            )

    def write(self, batch: list[Point]) -> None:
        """Each setting's points of one env step as one `log` call (W&B wants steps in
        order per run): aggregates under their own names, seeds under seed_I/."""
        by_step: dict[tuple[int, int], dict[str, float]] = {}
        for point in batch:
            row = by_step.setdefault((point.setting, point.env_step), {})
            prefix = "" if point.seed is None else f"seed_{point.seed}/"
            row.update({f"{prefix}{k}": v for k, v in point.values.items()})
        for (setting, step), row in sorted(by_step.items(), key=lambda kv: kv[0][::-1]):
            self.runs[setting].log({**row, "env_step": step}, step=step)

    def finish(self, summary: dict[str, Any] | None) -> None:
        for s, run in enumerate(self.runs):
            if summary is not None:
                run.summary.update(_setting_summary(summary, s, len(self.runs)))
            run.finish()


def _wandb_project() -> str:
    return os.environ.get("WANDB_PROJECT", "purejaxdqn")


def _setting_summary(summary: dict[str, Any], setting: int, count: int) -> dict[str, Any]:
    """summary.json's per-seed lists cut to one setting's seeds, plus their median."""
    per_setting = len(summary["final_eval_return"]) // count
    part = slice(setting * per_setting, (setting + 1) * per_setting)
    out: dict[str, Any] = {
        key: summary[key][part]
        for key in ("final_eval_return", "solved", "solve_env_step", "frozen", "diverged")
    }
    out["final_eval_return_median"] = float(np.median(out["final_eval_return"]))
    out["solve_rate"] = float(np.mean(out["solved"]))
    return out


class Loggers:
    """The backends `--log` asks for, fed after each chunk; `LOGGED` tracks how far they got."""

    def __init__(
        self,
        backends: list[str],
        out: Path,
        config: dict[str, Any],
        num_seeds: int,
        settings: list[dict] | None,
        log_seeds: int = 8,
    ):
        unknown = sorted(set(backends) - set(BACKENDS))
        if unknown:
            raise ValueError(f"--log {unknown[0]}: not a logger; choose from {', '.join(BACKENDS)}")
        if log_seeds < 0:
            raise ValueError(f"--log-seeds: must be >= 0, got {log_seeds}")
        self.out, self.num_seeds, self.log_seeds = out, num_seeds, log_seeds
        self.logged = read_logged(out)
        self.backends: list[Any] = []
        for name in dict.fromkeys(backends):  # once each, in the order given
            after = self.logged.get(name, -1)
            if name == "tensorboard":
                self.backends.append(TensorBoard(out, settings is not None, after))
            else:
                self.backends.append(WandB(out, config, settings))

    def log(self, progress: Any, steps_per_s: float | None = None) -> None:
        """Writes the periods each backend has not logged yet."""
        for backend in self.backends:
            after = self.logged.get(backend.name, -1)
            batch = points(progress, self.num_seeds, self.log_seeds, after, steps_per_s)
            if batch:
                backend.write(batch)
                self.logged[backend.name] = max(p.env_step for p in batch)
        if self.backends:
            tmp = self.out / f".{LOGGED}.tmp"
            tmp.write_text(json.dumps(self.logged) + "\n")
            tmp.replace(self.out / LOGGED)

    def finish(self, summary: dict[str, Any] | None = None) -> None:
        for backend in self.backends:
            backend.finish(summary)
