"""The launch scripts in scripts/ run on the CPU with small settings."""

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import TINY_CLI_ARGS

SCRIPTS = Path(__file__).parent.parent / "scripts"
SMALL = [*TINY_CLI_ARGS, "--no-progress", "--no-plot", "--chunks", "1", "--out", "run"]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHON=sys.executable, JAX_PLATFORMS="cpu", SEEDS="2")
    env.pop("XLA_FLAGS", None)
    return env | extra


def _run(script: str, cwd: Path, env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPTS / script), *SMALL, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("script, devices", [("train_one_gpu.sh", 1), ("train_all_gpus.sh", 2)])
def test_single_host_scripts(tmp_path, script, devices):
    env = _env(XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    _run(script, tmp_path, env)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["num_seeds"] == 2 and len(summary["final_eval_return"]) == 2


def test_seed_sweep_script(tmp_path):
    _run("seed_sweep.sh", tmp_path, _env(LEARNING_RATES="1e-3,3e-3", GAMMAS="0.9"))
    with open(tmp_path / "run" / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(float(r["learning_rate"]) for r in rows) == [1e-3, 3e-3]


def test_multihost_script_with_two_local_processes(tmp_path):
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in (0, 1):  # one folder seen by both, as a shared filesystem would be
        env = _env(COORDINATOR=f"localhost:{port}", NUM_PROCESSES="2", PROCESS_ID=str(rank))
        procs.append(
            subprocess.Popen(
                ["bash", str(SCRIPTS / "train_multihost.sh"), *SMALL],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    for p in procs:
        text = p.communicate(timeout=600)[0]
        assert p.returncode == 0, text[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert len(summary["final_eval_return"]) == 2
