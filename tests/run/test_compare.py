"""`purejaxdqn compare`: rliable's numbers, exactly; compare.png; one seed is a note; and
sweep.csv's intervals from the same code."""

import csv
import json

import numpy as np
import pytest
from rliable import library, metrics

from tests.helpers import TINY_CLI_ARGS, cli_main


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two 4-seed runs that differ (gamma) and a 2-setting sweep."""
    from purejaxdqn import cli

    root = tmp_path_factory.mktemp("compare")
    common = ["--no-plot", "--no-progress", *TINY_CLI_ARGS]
    for name, extra in (
        ("a", ["--seeds", "4"]),
        ("b", ["--seeds", "4", "--set", "gamma=0.5"]),
    ):
        assert cli.main(["train", "--out", str(root / name), *extra, *common]) == 0
    sweep = ["sweep", "--out", str(root / "sweep"), "--seeds", "3", "--grid", "gamma=0.99,0.5"]
    assert cli.main([*sweep, *common]) == 0
    return root


def finals(path):
    return np.array(json.loads((path / "summary.json").read_text())["final_eval_return"])


def rliable_directly(scores, func, reps, seed):
    """rliable as its README calls it, with its random state; its stratified bootstraps
    draw from NumPy's global generator, so that is seeded the same way."""
    np.random.seed(seed)
    return library.get_interval_estimates(
        scores, func, reps=reps, random_state=np.random.RandomState(seed)
    )


def test_compare_equals_rliable_called_directly(runs, tmp_path, capsys):
    plot = tmp_path / "compare.png"
    code, out, err = cli_main(
        capsys, "compare", runs / "a", runs / "b", "--reps", 300, "--random-state", 7,
        "--plot", plot, "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    a, b = finals(runs / "a"), finals(runs / "b")
    assert not np.array_equal(a, b)
    scores = {"a": a[:, None], "b": b[:, None]}

    def three(x):
        return np.array(
            [metrics.aggregate_median(x), metrics.aggregate_iqm(x), metrics.aggregate_mean(x)]
        )

    points, intervals = rliable_directly(scores, three, 300, 7)
    for row in result["entries"]:
        for i, key in enumerate(("median", "iqm", "mean")):
            assert row[key] == pytest.approx(points[row["name"]][i], abs=0)
            assert row[f"{key}_ci"] == pytest.approx(list(intervals[row["name"]][:, i]), abs=0)
    (pair,) = result["probability_of_improvement"]
    p_points, p_intervals = rliable_directly(
        {"a > b": (a[:, None], b[:, None])},
        lambda x, y: np.array([metrics.probability_of_improvement(x, y)]),
        300,
        7,
    )
    assert pair["probability"] == pytest.approx(p_points["a > b"][0], abs=0)
    assert pair["ci"] == pytest.approx(list(p_intervals["a > b"][:, 0]), abs=0)
    base = result["normalisation"]["CartPole-v1"]
    assert 15 < base["random_return"] < 35 and base["threshold"] == 475.0
    normalised = {
        k: (v - base["random_return"]) / (475.0 - base["random_return"]) for k, v in scores.items()
    }
    gap, gap_ci = rliable_directly(
        normalised, lambda x: np.array([metrics.aggregate_optimality_gap(x)]), 300, 7
    )
    assert result["entries"][1]["optimality_gap"] == pytest.approx(gap["b"][0], abs=0)
    assert result["entries"][1]["optimality_gap_ci"] == pytest.approx(
        list(gap_ci["b"][:, 0]), abs=0
    )
    assert result["bootstrap"]["reps"] == 300 and result["bootstrap"]["random_state"] == 7
    assert plot.stat().st_size > 20_000
    code, again, _ = cli_main(
        capsys, "compare", runs / "a", runs / "b", "--reps", 300, "--random-state", 7,
        "--no-plot", "--json",
    )  # fmt: skip
    assert json.loads(again)["entries"] == result["entries"]  # the same inputs, the same figures


def test_one_seed_is_a_note_and_the_table_names_the_options(runs, tmp_path):
    from purejaxdqn.run import compare

    (a,) = compare.entries(runs / "a")
    one = a._replace(name="one", scores=a.scores[:1], curves=a.curves[:1])
    result = compare.compare([a, one])
    table = compare.format_table(result)
    assert "2000 repetitions, random state 0" in table
    assert "note: one: one seed, so its intervals are that seed's value" in table
    assert "P(a > one) = " in table
    row = result["entries"][1]
    assert row["iqm"] == row["iqm_ci"][0] == row["iqm_ci"][1] == a.scores[0]
    compare.plot([a, one], result, tmp_path / "c.png", reps=50)
    assert (tmp_path / "c.png").stat().st_size > 20_000


def test_sweep_csv_intervals_are_compares(runs, capsys):
    code, out, err = cli_main(capsys, "compare", runs / "sweep", "--json", "--no-plot")
    assert code == 0, err
    entries = {e["name"]: e for e in json.loads(out)["entries"]}
    rows = list(csv.DictReader((runs / "sweep" / "sweep.csv").open()))
    assert len(rows) == 2 and len(entries) == 2
    for r in rows:
        e = entries[f"sweep/setting_{r['setting']}"]
        assert float(r["iqm_return"]) == pytest.approx(e["iqm"], rel=1e-12)
        assert float(r["iqm_ci_low"]) == pytest.approx(e["iqm_ci"][0], rel=1e-12)
        assert float(r["iqm_ci_high"]) == pytest.approx(e["iqm_ci"][1], rel=1e-12)


def test_metrics_that_are_not_returns_and_bad_inputs(runs, tmp_path, capsys):
    code, out, err = cli_main(capsys, "compare", runs / "a", "--metric", "env_steps", "--no-plot")
    assert code == 0, err
    assert "note: env_steps is not a return: no normalisation, no optimality gap" in out
    bad = [
        (["--metric", "loss"], "--metric loss: not a per-seed result; choose from"),
        (["--metric", "solve_env_step"], "has none (e.g. never solved)"),
        (["--reps", "0"], "--reps: must be >= 1"),
        (["--plot", "x.txt"], "must end in .png"),
    ]
    for flags, message in bad:
        code, _, err = cli_main(capsys, "compare", runs / "a", *flags)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    (tmp_path / "unfinished").mkdir()
    for name in ("config.json", "run.json"):
        (tmp_path / "unfinished" / name).write_text((runs / "a" / name).read_text())
    code, _, err = cli_main(capsys, "compare", tmp_path / "unfinished", "--no-plot")
    assert code == 2 and "has not finished (no summary.json)" in err
