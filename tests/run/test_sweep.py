"""Sweeps: settings of traced hyperparameters x seeds in one program."""

import csv
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import purejaxdqn
from purejaxdqn.run import sweep
from purejaxdqn.run.runner import ChunkedRun
from tests.helpers import TINY_CLI_ARGS, tiny_config


def test_sweep_of_2_settings_x_2_seeds_equals_the_four_separate_runs():
    cfg = tiny_config()
    settings = [{"learning_rate": 1e-3, "gamma": 0.99}, {"learning_rate": 3e-3, "gamma": 0.9}]
    run = ChunkedRun(cfg, num_seeds=2, seed=4, chunks=2, settings=settings)
    state = run.run(run.init())
    result = run.finish(state)
    keys = jax.random.split(jax.random.key(4), 2)
    for s, setting in enumerate(settings):
        train = jax.jit(purejaxdqn.make_train(cfg.replace(**setting)))
        # bit-for-bit the batched runs of each setting (what `purejaxdqn train` computes)
        batched = jax.jit(jax.vmap(purejaxdqn.make_train(cfg.replace(**setting))))(keys)
        for a, b in zip(jax.tree.leaves(batched.params), jax.tree.leaves(result.params)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b)[2 * s : 2 * s + 2])
        for i in range(2):
            alone = train(keys[i])
            r = s * 2 + i
            np.testing.assert_array_equal(
                np.asarray(alone.metrics.env_step), np.asarray(result.metrics.env_step)[r]
            )
            for a, b in zip(jax.tree.leaves(alone.params), jax.tree.leaves(result.params)):
                # unbatched matmuls round differently (measured: at most 2.3e-7 here)
                np.testing.assert_allclose(np.asarray(a), np.asarray(b)[r], rtol=1e-5, atol=1e-6)
    # the settings really differ
    p = np.asarray(jax.tree.leaves(result.params)[0])
    assert not np.allclose(p[0], p[2])


def test_parse_grid_and_ranges_refuse_static_fields_and_bad_specs():
    assert sweep.parse_grid(["learning_rate=1e-3,3e-4"]) == {"learning_rate": [1e-3, 3e-4]}
    assert sweep.parse_ranges(["gamma=0.9:0.99"]) == {"gamma": (0.9, 0.99, "lin")}
    with pytest.raises(ValueError, match="^--grid batch_size: not sweepable.*learning_rate"):
        sweep.parse_grid(["batch_size=32,64"])
    with pytest.raises(ValueError, match="^--range hidden_sizes: not sweepable"):
        sweep.parse_ranges(["hidden_sizes=1:2"])
    for bad in ("learning_rate=1e-3:1e-2:cubic", "learning_rate=0:1:log", "gamma=0.9"):
        with pytest.raises(ValueError, match="^--range"):
            sweep.parse_ranges([bad])
    with pytest.raises(ValueError, match="^--grid"):
        sweep.parse_grid(["gamma=high"])


def test_settings_product_random_draws_and_validation():
    cfg = tiny_config()
    grid = {"gamma": [0.9, 0.99], "tau": [0.5, 1.0]}
    assert len(sweep.make_settings(cfg, grid, {}, 0, 0)) == 4
    ranges = {"learning_rate": (1e-4, 1e-2, "log")}
    settings = sweep.make_settings(cfg, {"gamma": [0.9, 0.99]}, ranges, 5, 0)
    assert len(settings) == 10
    lrs = [s["learning_rate"] for s in settings]
    assert all(1e-4 <= lr <= 1e-2 for lr in lrs) and len(set(lrs)) == 5
    assert sweep.make_settings(cfg, {}, ranges, 5, 0) == sweep.make_settings(cfg, {}, ranges, 5, 0)
    with pytest.raises(ValueError, match="^gamma: must be in"):
        sweep.make_settings(cfg, {"gamma": [0.9, 2.0]}, {}, 0, 0)
    with pytest.raises(ValueError, match="--random N"):
        sweep.make_settings(cfg, {}, ranges, 0, 0)


def test_interquartile_mean():
    x = np.array([0.0, 1.0, 2.0, 3.0, 100.0, 5.0, 6.0, 7.0])
    assert sweep.interquartile_mean(x) == pytest.approx(np.mean([2.0, 3.0, 5.0, 6.0]))


def test_sweep_command_writes_sweep_csv_sorted_best_first(tmp_path):
    out = tmp_path / "sweep"
    args = ["sweep", "--seeds", "2", "--grid", "learning_rate=1e-3,1e-2", "--grid",
            "gamma=0.99,0.5", "--out", str(out), "--no-progress", *TINY_CLI_ARGS]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "purejaxdqn", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "4 settings x 2 seeds" in proc.stdout
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert len(rows) == 4
    assert {(float(r["learning_rate"]), float(r["gamma"])) for r in rows} == {
        (1e-3, 0.99),
        (1e-3, 0.5),
        (1e-2, 0.99),
        (1e-2, 0.5),
    }
    iqm = [float(r["iqm_return"]) for r in rows]
    assert iqm == sorted(iqm, reverse=True)
    for r in rows:
        assert float(r["iqm_ci_low"]) <= float(r["iqm_return"]) <= float(r["iqm_ci_high"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_runs"] == 8 and len(summary["settings"]) == 4
    assert (out / "sweep.png").stat().st_size > 5_000
    metrics = list(csv.DictReader((out / "metrics.csv").open()))
    assert {(m["setting"], m["seed"]) for m in metrics} == {
        (str(s), str(i)) for s in range(4) for i in range(2)
    }


def test_finish_without_state_keeps_small_fields_and_results():
    """keep_state=False: the replay buffers, networks and env states stay on the devices;
    results, counters, flags and the metrics history are those of the full finish."""
    from purejaxdqn.run.runner import small_fields

    run = ChunkedRun(tiny_config(), num_seeds=2, seed=1, chunks=1)
    state = run.run(run.init())
    full, light = run.finish(state), run.finish(state, keep_state=False)
    assert light.state.buffer is None and light.state.learner is None
    assert light.state.actor is None and light.state.progress is not None
    for a, b in zip(
        jax.tree.leaves((full.params, full.metrics, full.final_eval_returns)),
        jax.tree.leaves((light.params, light.metrics, light.final_eval_returns)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    small = small_fields(full.state)
    for a, b in zip(jax.tree.leaves(small), jax.tree.leaves(light.state), strict=True):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
