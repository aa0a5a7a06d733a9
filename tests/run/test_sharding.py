"""Runs sharded over devices and processes give the one-device results.

Each check starts fresh processes: a JAX process fixes its device count (and its
`jax.distributed` membership) when its backend starts.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
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


def test_pqn_over_4_devices_equals_1_device_up_to_float_rounding(sharded):
    four, one = sharded["pqn_four"], sharded["pqn_one"]
    assert four.keys() == one.keys() and four["final_eval_returns"].shape[0] == 6
    for name in four:
        a, b = four[name], one[name]
        assert a.shape == b.shape and a.dtype == b.dtype, name
        if np.issubdtype(a.dtype, np.floating):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


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


def _two_processes(cwds, args, env_of_rank=lambda rank: {}):
    """`args` as 2 processes x 2 CPU devices of one jax.distributed job (gloo collectives)."""
    port, procs = _free_port(), []
    for rank, cwd in enumerate(cwds):
        dist = ["--coordinator", f"localhost:{port}", "--num-processes", "2"]
        procs.append(
            subprocess.Popen(
                [*args, *dist, "--process-id", str(rank)],
                cwd=cwd,
                env={**_env(2), **env_of_rank(rank)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    return procs


def _finish(procs):
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for p, text in zip(procs, outputs):
        assert p.returncode == 0, text[-2000:]


def _results(run):
    from purejaxdqn.run import run_dir

    summary = json.loads((run / "summary.json").read_text())
    for timing in ("compile_time_s", "wall_time_s", "env_steps_per_s"):
        summary.pop(timing)
    return summary, [np.asarray(x) for x in jax_leaves(run_dir.load_params(run)[1])]


def jax_leaves(tree):
    import jax

    return jax.tree.leaves(tree)


def _assert_same(a, b):
    assert a[0] == b[0]
    for x, y in zip(a[1], b[1], strict=True):
        np.testing.assert_array_equal(x, y)


TRAIN = [sys.executable, "-m", "purejaxdqn", "train", *TINY_CLI_ARGS, "--seeds", "6"]
TRAIN += ["--no-progress", "--no-plot", "--chunks", "3", "--checkpoint-every", "0"]


def test_two_process_run_saves_its_shards_per_process_and_resumes_after_a_lost_process(
    tmp_path,
):
    """A run of 2 processes x 2 devices whose process 1 is SIGKILLed in the middle of a
    save: process 0 ends with an error, and the run directory resumes (2 processes
    again) to the results of 1 process x 4 devices, bit for bit; each process writes its
    own checkpoint shards (no gather to process 0)."""
    from purejaxdqn.run import checkpoint

    paused = tmp_path / "paused"
    hook = {checkpoint.PAUSE_SAVE: "1", checkpoint.PAUSE_FILE: str(paused)}
    killed = [*TRAIN, "--out", "killed", "--heartbeat-timeout", "5"]
    procs = _two_processes([tmp_path, tmp_path], killed, lambda rank: hook if rank else {})
    while not paused.exists() and procs[1].poll() is None:
        time.sleep(0.01)
    procs[1].kill()
    text = procs[0].communicate(timeout=300)[0]  # JAX ends it once the heartbeats stop
    assert procs[0].returncode != 0, text[-2000:]
    procs[1].wait()
    resume = [sys.executable, "-m", "purejaxdqn", "train", "--resume", "killed", "--no-progress"]
    _finish(_two_processes([tmp_path, tmp_path], [*resume, "--no-plot"]))
    run = tmp_path / "killed"
    latest = max((run / "checkpoints").iterdir(), key=lambda p: int(p.name))
    for item in ("state", "params"):
        assert {p.name for p in (latest / item).glob("ocdbt.process_*")} == {
            "ocdbt.process_0",
            "ocdbt.process_1",
        }
    subprocess.run([*TRAIN, "--out", "single"], cwd=tmp_path, env=_env(4), check=True)
    _assert_same(_results(run), _results(tmp_path / "single"))


def test_processes_that_do_not_see_one_run_directory_are_refused_in_one_line(tmp_path):
    cwds = [tmp_path / "process0", tmp_path / "process1"]
    for cwd in cwds:
        cwd.mkdir()
    procs = _two_processes(cwds, [*TRAIN, "--out", "run"])
    for p in procs:
        text = p.communicate(timeout=300)[0]
        assert p.returncode != 0
        errors = [line for line in text.splitlines() if "error" in line]
        assert len(errors) == 1 and "cannot see the run directory" in errors[0], text[-2000:]
    assert not (cwds[1] / "run" / "checkpoints").exists()


ELASTIC = ((4, (4, 3, 2, 1)), (1, (2, 4)))  # as sharded_runs.py


@pytest.mark.parametrize("saved_on,resumed_on", ELASTIC)
def test_a_checkpoint_saved_on_n_devices_resumes_on_m(sharded, saved_on, resumed_on):
    """6 seeds stopped after their first chunk and saved on N devices, finished on M:
    on N itself bit for bit the uninterrupted run on N; elsewhere its integers (env
    steps, episodes, solve steps, flags) and floats within the rounding of another
    partitioning."""
    same = sharded["four" if saved_on == 4 else "one"]
    for m in resumed_on:
        other = sharded[f"elastic_{saved_on}_{m}"]
        assert other.keys() == same.keys()
        for name, x in same.items():
            y = other[name]
            assert y.shape == x.shape and y.dtype == x.dtype, name
            if m == saved_on or not np.issubdtype(x.dtype, np.floating):
                np.testing.assert_array_equal(y, x, err_msg=f"{name} on {m}")
            else:
                np.testing.assert_allclose(y, x, rtol=1e-4, atol=1e-5, err_msg=f"{name} on {m}")


@pytest.mark.slow  # a minute on 2 cores; run with `pytest -m slow`
def test_sigterm_to_one_process_saves_and_stops_all_then_the_run_resumes_bit_for_bit(tmp_path):
    """A scheduler's preemption of process 1 alone: both processes stop after the same
    chunk, save together and exit 128 + SIGTERM; the resumed run ends bit for bit as the
    uninterrupted one (1 process x 4 devices, which 2 x 2 equal). JAX's preemption service
    holds SIGTERM there, so a second one does not kill the process as our own handler's
    would."""
    from tests.cli.test_run_commands import LONG, checkpoint_period, committed

    train = [sys.executable, "-m", "purejaxdqn", "train", *LONG]
    procs = _two_processes([tmp_path, tmp_path], [*train, "--out", "stopped"])
    deadline = time.time() + 240
    while checkpoint_period(tmp_path / "stopped") < 1 and time.time() < deadline:
        time.sleep(0.01)
    procs[1].send_signal(signal.SIGTERM)
    time.sleep(0.2)
    procs[1].send_signal(signal.SIGTERM)
    texts = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [128 + signal.SIGTERM] * 2, texts[0][-2000:]
    assert "checkpoint saved" in texts[0]
    assert checkpoint_period(tmp_path / "stopped") < 20 and committed(tmp_path / "stopped")
    resume = [sys.executable, "-m", "purejaxdqn", "train", "--resume", "stopped", "--no-plot"]
    _finish(_two_processes([tmp_path, tmp_path], [*resume, "--no-progress"]))
    subprocess.run([*train, "--out", "whole"], cwd=tmp_path, env=_env(4), check=True)
    _assert_same(_results(tmp_path / "stopped"), _results(tmp_path / "whole"))


def test_an_error_on_one_process_ends_every_process_with_a_one_line_error(tmp_path):
    """Process 0 alone cannot clear the old run (its metrics.csv is a folder): it ends with
    that error, process 1 with one naming process 0; neither waits for the other."""
    (tmp_path / "run" / "metrics.csv").mkdir(parents=True)
    procs = _two_processes([tmp_path, tmp_path], [*TRAIN, "--out", "run", "--force"])
    texts = [p.communicate(timeout=300)[0] for p in procs]
    errors = [[line for line in t.splitlines() if ": error: " in line] for t in texts]
    assert [p.returncode for p in procs] == [1, 1], texts
    assert len(errors[0]) == 1 and "Is a directory: run/metrics.csv" in errors[0][0], texts[0]
    assert len(errors[1]) == 1 and "process 0 failed writing the run directory" in errors[1][0]
