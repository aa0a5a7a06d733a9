"""`--log tensorboard` and `--log wandb`: the curves equal metrics.csv, aggregates and seeds,
every logged step has every scalar, and a killed and resumed run repeats and loses none."""

import csv
import json
import subprocess
import sys
import types
from types import SimpleNamespace

import numpy as np
import pytest

from purejaxdqn.run import loggers
from tests.cli.test_run_commands import cli, env
from tests.helpers import TINY_CLI_ARGS, cli_main

PER_SEED = (*loggers.METRICS, "frozen", "diverged")
AGGREGATE = (
    *(f"{m}/{s}" for m in loggers.METRICS for s in ("mean", "median", "p25", "p75")),
    "frozen",
    "diverged",
    "seeds_training",
    "env_steps_per_s",
)


def metrics_csv(out):
    return list(csv.DictReader((out / "metrics.csv").open()))


def tensorboard_scalars(out):
    """{(folder under tb/, tag): [(step, value), ...]} read by tbparse (TensorBoard's reader)."""
    from tbparse import SummaryReader

    frame = SummaryReader(str(out / "tb"), extra_columns={"dir_name"}).scalars
    curves: dict = {}
    for row in frame.itertuples():
        curves.setdefault((row.dir_name, row.tag), []).append((int(row.step), float(row.value)))
    return curves


def expected_aggregates(rows, setting=0):
    """{env_step: {tag: value}} computed from metrics.csv as the loggers should."""
    by_step: dict = {}
    for r in rows:
        if int(r["setting"]) == setting:
            by_step.setdefault(int(r["env_step"]), []).append(r)
    out = {}
    for step, group in by_step.items():
        values = {}
        for m in loggers.METRICS:
            x = np.array([float(r[m]) for r in group], np.float64)
            with _quiet():  # all-NaN columns (the loss in warm-up) give NaN
                values[f"{m}/mean"] = np.nanmean(x)
                values[f"{m}/median"] = np.nanmedian(x)
                values[f"{m}/p25"] = np.nanpercentile(x, 25)
                values[f"{m}/p75"] = np.nanpercentile(x, 75)
        values["seeds_training"] = len(group)
        out[step] = values
    return out


def _quiet():
    import warnings

    w = warnings.catch_warnings()
    warnings.simplefilter("ignore", RuntimeWarning)
    return w


def assert_close(a, b):
    np.testing.assert_allclose(np.float32(a), np.float32(b), rtol=1e-6, equal_nan=True)


def test_tensorboard_curves_equal_metrics_csv(tmp_path, capsys):
    out = tmp_path / "tb-run"
    code, _, err = cli_main(
        capsys, "train", "--out", out, "--seeds", 3, "--no-plot", *TINY_CLI_ARGS,
        "--set", "total_timesteps=2000", "--log", "tensorboard", "--log-seeds", 2,
    )  # fmt: skip
    assert code == 0, err
    rows, curves = metrics_csv(out), tensorboard_scalars(out)
    assert {folder for folder, _ in curves} == {"", "seed_0", "seed_1"}  # seed 2: aggregates only
    steps = sorted({int(r["env_step"]) for r in rows})
    assert len(steps) == 5
    for seed in (0, 1):  # each seed's curve is its metrics.csv column, step for step
        own = [r for r in rows if int(r["seed"]) == seed]
        for tag in PER_SEED:
            logged = curves[(f"seed_{seed}", tag)]
            assert [s for s, _ in logged] == [int(r["env_step"]) for r in own]
            want = [
                float(r[tag] == "True") if tag in ("frozen", "diverged") else r[tag] for r in own
            ]
            assert_close([v for _, v in logged], [float(x) for x in want])
    expected = expected_aggregates(rows)
    for tag in AGGREGATE:  # every aggregate scalar at every logged step
        logged = dict(curves[("", tag)])
        assert sorted(logged) == steps, tag
        for step, values in expected.items():
            if tag in values:
                assert_close(logged[step], values[tag])
    assert all(v > 0 for v in dict(curves[("", "env_steps_per_s")]).values())
    assert json.loads((out / loggers.LOGGED).read_text()) == {"tensorboard": steps[-1]}


def test_points_leave_out_stopped_runs_and_what_was_logged():
    """Run 1 froze after period 0: it leaves period 1's aggregates, and its flag counts."""
    nan = np.nan
    h = SimpleNamespace(
        env_step=np.array([[10, 20], [10, 0], [10, 20]]),
        frozen=np.array([[False, False], [True, False], [False, False]]),
        diverged=np.zeros((3, 2), bool),
        eval_return_mean=np.array([[1.0, 2.0], [3.0, 0.0], [5.0, 6.0]]),
        eval_return_std=np.zeros((3, 2)),
        episode_return_mean=np.array([[nan, 1.0], [nan, 0.0], [nan, 3.0]]),
        loss=np.ones((3, 2)),
        epsilon=np.ones((3, 2)),
    )
    progress = SimpleNamespace(period=np.array([2, 1, 2]), history=h)
    with _quiet():
        batch = loggers.points(progress, num_seeds=3, log_seeds=1, after_step=-1)
    aggregates = [p for p in batch if p.seed is None]
    assert [p.env_step for p in aggregates] == [10, 20]
    assert aggregates[0].values["eval_return_mean/mean"] == pytest.approx(3.0)
    assert aggregates[1].values["eval_return_mean/mean"] == pytest.approx(4.0)  # runs 0, 2
    assert aggregates[1].values["frozen"] == 1 and aggregates[1].values["seeds_training"] == 2
    assert np.isnan(aggregates[0].values["episode_return_mean/median"])
    assert [(p.seed, p.env_step) for p in batch if p.seed is not None] == [(0, 10), (0, 20)]
    later = loggers.points(progress, num_seeds=3, log_seeds=1, after_step=10)
    assert {p.env_step for p in later} == {20}


def assert_curves_continue(out, before):
    """A run killed after logging up to env step `before` and resumed: every TensorBoard
    curve has each step of metrics.csv once, none missing, and seed 0's values are its
    metrics.csv column. The run: tests/cli/test_run_commands.py::
    test_resume_after_sigkill_is_bit_for_bit."""
    rows = metrics_csv(out)
    steps = sorted({int(r["env_step"]) for r in rows})
    assert 0 < before < steps[-1]
    curves = tensorboard_scalars(out)
    assert {folder for folder, _ in curves} == {"", "seed_0"}
    for (folder, tag), points in curves.items():
        assert [s for s, _ in points] == steps, (folder, tag)
    assert_close(
        [v for _, v in curves[("seed_0", "eval_return_mean")]],
        [float(r["eval_return_mean"]) for r in rows if r["seed"] == "0"],
    )


def test_a_stop_between_the_event_files_and_logged_json_repeats_nothing(tmp_path):
    """The files a chunk wrote after the last step logged.json holds are deleted when the
    run resumes (it writes their points again); the others stay."""
    from purejaxdqn.run.loggers import Point, TensorBoard

    first = TensorBoard(tmp_path, sweep=False, after_step=-1)
    for step in (10, 20, 30):
        first.write([Point(0, None, step, {"x": float(step)}), Point(0, 0, step, {"x": 1.0})])
    TensorBoard(tmp_path, sweep=False, after_step=20)  # logged.json said 20: 30 is redone
    curves = tensorboard_scalars(tmp_path)
    assert curves[("", "x")] == [(10, 10.0), (20, 20.0)]
    assert [s for s, _ in curves[("seed_0", "x")]] == [10, 20]


class FakeWandb(types.ModuleType):
    """Records every init/log/finish call (a stand-in for the wandb package)."""

    def __init__(self):
        super().__init__("wandb")
        self.calls: list = []

    def init(self, **kwargs):
        self.calls.append(("init", kwargs))
        fake = self

        class Run:
            summary: dict = {}

            def log(self, row, step):
                fake.calls.append(("log", kwargs["id"], step, dict(row)))

            def finish(self):
                fake.calls.append(("finish", kwargs["id"], dict(self.summary)))

        run = Run()
        run.summary = {}
        return run


def test_wandb_and_tensorboard_log_each_sweep_setting_apart(tmp_path, capsys, monkeypatch):
    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    out = tmp_path / "wb"
    code, _, err = cli_main(
        capsys, "sweep", "--out", out, "--seeds", 2, "--no-plot", *TINY_CLI_ARGS,
        "--grid", "gamma=0.99,0.9", "--log", "wandb", "--log", "tensorboard",
    )  # fmt: skip
    assert code == 0, err
    inits = [c[1] for c in fake.calls if c[0] == "init"]
    assert [i["name"] for i in inits] == ["wb/setting_0", "wb/setting_1"]
    assert inits[1]["config"]["gamma"] == 0.9 and inits[1]["resume"] == "allow"
    rows = metrics_csv(out)
    for setting, init in enumerate(inits):
        logs = [c for c in fake.calls if c[0] == "log" and c[1] == init["id"]]
        steps = [c[2] for c in logs]
        assert steps == sorted({int(r["env_step"]) for r in rows})  # in order, each once
        for step, values in expected_aggregates(rows, setting).items():
            row = next(c[3] for c in logs if c[2] == step)
            for tag, value in values.items():
                assert_close(row[tag], value)
        for r in (r for r in rows if int(r["setting"]) == setting):
            row = next(c[3] for c in logs if c[2] == int(r["env_step"]))
            assert_close(row[f"seed_{r['seed']}/eval_return_mean"], float(r["eval_return_mean"]))
        (finish,) = [c for c in fake.calls if c[0] == "finish" and c[1] == init["id"]]
        summary = json.loads((out / "summary.json").read_text())
        part = summary["final_eval_return"][setting * 2 : setting * 2 + 2]
        assert finish[2]["final_eval_return"] == part
    # Both loggers at once: TensorBoard's folders per setting, the same aggregates.
    curves = tensorboard_scalars(out)
    folders = {folder for folder, _ in curves}
    assert {"setting_0", "setting_0/seed_0", "setting_1", "setting_1/seed_1"} <= folders
    for setting in (0, 1):
        logged = dict(curves[(f"setting_{setting}", "eval_return_mean/median")])
        for step, values in expected_aggregates(rows, setting).items():
            assert_close(logged[step], values["eval_return_mean/median"])


def test_wandb_offline_writes_its_run_folder(tmp_path):
    pytest.importorskip("wandb")
    out = tmp_path / "offline"
    proc = subprocess.run(
        cli("train", "--out", out, "--seeds", 2, "--no-plot", *TINY_CLI_ARGS, "--log", "wandb"),
        env={**env(), "WANDB_MODE": "offline", "WANDB_SILENT": "true"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (folder,) = (out / "wandb").glob("offline-run-*")
    assert list(folder.glob("*.wandb")), sorted(p.name for p in folder.iterdir())


def test_log_wandb_without_wandb_is_a_one_line_error_before_anything_runs(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed
    code, _, err = cli_main(capsys, "train", "--out", tmp_path / "x", "--log", "wandb")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "pip install 'purejaxdqn[wandb]'" in err
    assert not (tmp_path / "x").exists()


def test_bad_log_flags_are_one_line_errors(tmp_path, capsys):
    code, _, err = cli_main(
        capsys, "train", "--out", tmp_path / "x", *TINY_CLI_ARGS, "--log-seeds", 3
    )
    assert code == 2 and "--log-seeds needs --log" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()  # refused before anything is written
