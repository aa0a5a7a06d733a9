"""Runs sharded over devices and processes give the one-device results.

Each check starts fresh processes: a JAX process fixes its device count (and its
`jax.distributed` membership) when its backend starts.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import TINY_CLI_ARGS

TESTS = Path(__file__).parent
ROOT = TESTS.parents[1]


def _env(devices: int) -> dict[str, str]:
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


@pytest.fixture(scope="module")
def sharded(tmp_path_factory) -> dict[str, dict[str, np.ndarray]]:
    out = tmp_path_factory.mktemp("sharded") / "runs.npz"
    subprocess.run(
        [sys.executable, str(TESTS / "sharded_runs.py"), str(out)],
        env=_env(4),
        check=True,
        timeout=600,
    )
    runs: dict[str, dict[str, np.ndarray]] = {}
    with np.load(out) as data:
        for key in data.files:
            run, name = key.split("|", 1)
            runs.setdefault(run, {})[name] = data[key]
    return runs


def test_chunked_run_over_4_devices_is_the_single_partitioned_call_bit_for_bit(sharded):
    four, single = sharded["four"], sharded["single_call"]
    assert four.keys() == single.keys()
    for name in four:
        np.testing.assert_array_equal(four[name], single[name], err_msg=name)
    assert four["final_eval_returns"].shape[0] == 6  # the 2 padding runs are dropped


@pytest.mark.parametrize("four, one", [("four", "one"), ("sweep_four", "sweep_one")])
def test_4_devices_equal_1_device_up_to_float_rounding(sharded, four, one):
    """Integers (env steps, episodes, stored actions, keys) and the greedy returns are
    identical; floats differ by a few float32 ulps. The first difference is in the first
    gradient step's bias gradient (a sum over the batch), which the partitioned program
    adds in another order: rounding, not a different computation."""
    four, one = sharded[four], sharded[one]
    floats = 0
    for name in four:
        a, b = four[name], one[name]
        assert a.shape == b.shape and a.dtype == b.dtype, name
        if np.issubdtype(a.dtype, np.floating):
            floats += not np.array_equal(a, b, equal_nan=True)
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)
    np.testing.assert_array_equal(four["final_eval_returns"], one["final_eval_returns"])
    assert floats > 0, "expected rounding differences; if none, tighten this test to bit-for-bit"


def test_every_key_impl_compiles_partitioned_over_four_devices(sharded):
    from purejaxdqn.core import prng

    draws = sharded["key_impls"]
    for name in prng.KEY_IMPLS:
        np.testing.assert_array_equal(draws[f"sharded|{name}"], draws[f"plain|{name}"])
        assert draws[f"sharded|{name}"].shape == (8, 3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_process_distributed_run_writes_the_one_process_summary(tmp_path):
    """2 processes x 2 CPU devices (gloo collectives) == 1 process x 4 devices; only
    process 0 writes the run directory. A checkpoint after every chunk: the processes
    agree on when to save (process 0's clock) and gather the state together."""
    args = [sys.executable, "-m", "purejaxdqn", "train", *TINY_CLI_ARGS, "--seeds", "6"]
    args += ["--no-progress", "--no-plot", "--chunks", "3", "--checkpoint-every", "0"]
    args += ["--out", "run"]
    port = _free_port()
    procs = []
    for rank in (0, 1):
        cwd = tmp_path / f"process{rank}"
        cwd.mkdir()
        dist = ["--coordinator", f"localhost:{port}", "--num-processes", "2"]
        procs.append(
            subprocess.Popen(
                [*args, *dist, "--process-id", str(rank)],
                cwd=cwd,
                env=_env(2),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for p, text in zip(procs, outputs):
        assert p.returncode == 0, text[-2000:]
    (tmp_path / "single").mkdir()
    subprocess.run(args, cwd=tmp_path / "single", env=_env(4), check=True, capture_output=True)

    assert not (tmp_path / "process1" / "run").exists()
    multi = json.loads((tmp_path / "process0" / "run" / "summary.json").read_text())
    single = json.loads((tmp_path / "single" / "run" / "summary.json").read_text())
    for timing in ("compile_time_s", "wall_time_s", "env_steps_per_s"):
        multi.pop(timing), single.pop(timing)
    assert multi == single
    from purejaxdqn.run import run_dir

    _, p_multi, _ = run_dir.load_params(tmp_path / "process0" / "run")
    _, p_single, _ = run_dir.load_params(tmp_path / "single" / "run")
    import jax

    for a, b in zip(jax.tree.leaves(p_multi), jax.tree.leaves(p_single)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
