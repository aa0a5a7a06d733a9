"""`--network MODULE:CLASS`: a run directory records a custom torso, and `--resume`,
`eval`, `watch` and `load_policy` rebuild it (or say in one line why they cannot)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import purejaxdqn
from purejaxdqn.agents import make_agent
from purejaxdqn.core import envs
from purejaxdqn.run import run_dir as runs
from purejaxdqn.run import torso_record
from tests.helpers import TINY_CLI_ARGS, LayerNormMLP, cli_main

ROOT = Path(__file__).resolve().parents[2]
NETWORK = 'tests.helpers:LayerNormMLP={"hidden_sizes": [16]}'


def run(*args):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, "-m", "purejaxdqn", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,  # --network imports from the working folder
        timeout=300,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("network") / "run"
    args = ["train", "--out", out, "--seeds", "2", "--no-progress", "--no-plot", *TINY_CLI_ARGS]
    proc = run(*args, "--network", NETWORK, "--checkpoint-every", "0")
    assert proc.returncode == 0, proc.stderr
    return out


def test_the_run_records_the_torso_and_load_policy_rebuilds_it(trained, capsys):
    info = json.loads((trained / "run.json").read_text())
    assert info["network"] == {
        "class": "tests.helpers:LayerNormMLP",
        "fields": {"hidden_sizes": [16]},
    }
    config, params, torso = runs.load_params(trained)
    assert torso == LayerNormMLP(hidden_sizes=[16])
    assert "LayerNorm_0" in params["params"]["torso"]
    env, env_params = envs.make_env(config.env_id)
    q_values = make_agent(config, env, env_params, torso).q_values
    obs = np.random.default_rng(1).normal(size=(16, 4)).astype(np.float32)
    policy = purejaxdqn.load_policy(trained, seed_index=1)
    expected = np.argmax(q_values(jax.tree.map(lambda x: x[1], params), obs), -1)
    np.testing.assert_array_equal([policy(o) for o in obs], expected)
    code, out, err = cli_main(capsys, "eval", trained, "--episodes", "3", "--json")
    assert code == 0, err
    assert len(json.loads(out)["seeds"]) == 2


def test_an_export_of_a_custom_torso_rebuilds_it(trained, tmp_path, capsys):
    out = tmp_path / "policy"
    code, _, err = cli_main(capsys, "export", trained, "--all", "--out", out)
    assert code == 0, err
    assert json.loads((out / "policy.json").read_text())["network"]["class"] == (
        "tests.helpers:LayerNormMLP"
    )
    obs = np.random.default_rng(2).normal(size=(32, 4)).astype(np.float32)
    from_run = purejaxdqn.load_policy(trained, seed_index=1)
    from_export = purejaxdqn.load_policy(out, seed_index=1)
    assert [from_export(o) for o in obs] == [from_run(o) for o in obs]


def test_resume_rebuilds_the_torso(trained, tmp_path, capsys):
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(trained), str(copy)], check=True)
    before = json.loads((copy / "summary.json").read_text())
    (copy / "summary.json").unlink()  # as if it had stopped after its final checkpoint
    code, _, err = cli_main(capsys, "train", "--resume", copy, "--no-progress", "--no-plot")
    assert code == 0, err
    after = json.loads((copy / "summary.json").read_text())
    assert after["final_eval_return"] == before["final_eval_return"]


def test_a_torso_that_cannot_be_imported_is_a_one_line_error_and_can_be_passed(
    trained, tmp_path, capsys
):
    copy = tmp_path / "notebook"
    subprocess.run(["cp", "-r", str(trained), str(copy)], check=True)
    info = json.loads((copy / "run.json").read_text())
    info["network"] = torso_record.record(_NotebookTorso())  # a class defined in __main__-like code
    assert "why" in info["network"]
    (copy / "run.json").write_text(json.dumps(info))
    code, _, err = cli_main(capsys, "eval", copy, "--episodes", "2")
    assert code == 2 and err.count("\n") == 1, err
    assert "cannot be rebuilt" in err and "load_policy(run_dir, network=...)" in err
    # the record is part of the checkpoint's identity: passing the module loads the params
    with pytest.raises(ValueError, match="checkpoint is for another torso"):
        purejaxdqn.load_policy(copy, network=LayerNormMLP(hidden_sizes=(16,)))
    policy = purejaxdqn.load_policy(trained, network=LayerNormMLP(hidden_sizes=(16,)))
    assert policy(np.zeros(4, np.float32)) in (0, 1)


def _NotebookTorso():
    class Local(LayerNormMLP):  # defined inside a function: no import reaches it
        pass

    return Local(hidden_sizes=(16,))


@pytest.mark.parametrize(
    "network, message",
    [
        ("nosuchmodule:Thing", "network: the run's torso nosuchmodule:Thing cannot be rebuilt"),
        ("tests.helpers", "network: expected MODULE:CLASS"),
        ("tests.helpers:tiny_config", "network: tests.helpers:tiny_config is not a flax"),
        ("tests.helpers:LayerNormMLP={oops", "network: the fields after '=' are not JSON"),
        ('tests.helpers:LayerNormMLP={"depth": 3}', "its fields do not fit"),
    ],
)
def test_a_bad_network_flag_is_a_one_line_error(network, message, tmp_path, capsys):
    args = ("train", "--out", tmp_path / "x", "--no-progress", *TINY_CLI_ARGS)
    code, _, err = cli_main(capsys, *args, "--network", network)
    assert code == 2 and err.count("\n") == 1, err
    assert message in err
    assert not (tmp_path / "x").exists()
