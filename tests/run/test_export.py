"""`purejaxdqn export`: the greedy policy alone, loaded in a fresh process by `load_policy`,
`eval` and `watch`, acts as `greedy_policy` on the same result; bad exports are one line."""

import json
import subprocess
import sys

import jax
import numpy as np
import pytest

import purejaxdqn
from purejaxdqn.run import export
from purejaxdqn.run import run_dir as runs
from tests.helpers import TINY_CLI_ARGS, cli_main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 3-seed run directory, its export (--all) and the same result from one train call."""
    from purejaxdqn import cli

    root = tmp_path_factory.mktemp("export")
    run, out = root / "run", root / "policy"
    assert cli.main(["train", "--out", str(run), "--seeds", "3", "--no-plot", "--no-progress",
                     *TINY_CLI_ARGS]) == 0  # fmt: skip
    assert cli.main(["export", str(run), "--all", "--out", str(out)]) == 0
    config, _, _ = runs.load_params(run)
    result = jax.jit(jax.vmap(purejaxdqn.make_train(config)))(
        jax.random.split(jax.random.key(0), 3)
    )
    return run, out, result


def test_an_export_in_a_fresh_process_acts_as_greedy_policy(trained, tmp_path):
    _, out, result = trained
    obs = np.random.default_rng(0).normal(scale=2.0, size=(1000, 4)).astype(np.float32)
    np.save(tmp_path / "obs.npy", obs)
    script = (
        "import sys, numpy as np, purejaxdqn\n"
        f"obs = np.load({str(tmp_path / 'obs.npy')!r})\n"
        "for i in range(3):\n"
        f"    policy = purejaxdqn.load_policy({str(out)!r}, seed_index=i)\n"
        "    print(' '.join(str(policy(o)) for o in obs))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for i, line in enumerate(proc.stdout.splitlines()):
        expected = purejaxdqn.greedy_policy(result, seed_index=i)
        np.testing.assert_array_equal([int(a) for a in line.split()], [expected(o) for o in obs])
        assert len(set(line.split())) == 2  # both actions occur: the check can tell seeds apart


def test_an_export_is_small_and_describes_itself(trained, tmp_path, capsys):
    run, out, _ = trained
    info = json.loads((out / export.INFO_FILE).read_text())
    assert info["format"] == export.FORMAT and info["env_id"] == "CartPole-v1"
    assert info["observation_shape"] == [4] and info["num_actions"] == 2
    assert info["seed_indices"] == [0, 1, 2]
    summary = json.loads((run / "summary.json").read_text())
    assert info["final_eval_return"] == summary["final_eval_return"]
    assert sorted(p.name for p in out.iterdir()) == [export.INFO_FILE, export.PARAMS_FILE]
    assert (out / export.PARAMS_FILE).stat().st_size < 64 * 1024  # no buffers, no optimizer
    code, printed, err = cli_main(
        capsys, "export", run, "--seed-index", 2, "--out", tmp_path / "one"
    )
    assert code == 0, err
    assert printed.startswith("CartPole-v1: seed 2 of ")
    code, printed, err = cli_main(capsys, "export", run, "--all", "--out", tmp_path / "all")
    assert code == 0 and printed.startswith("CartPole-v1: all 3 seeds of "), err
    _, params, _ = export.load_params(tmp_path / "one")
    _, all_params, _ = export.load_params(out)
    for x, y in zip(jax.tree.leaves(params), jax.tree.leaves(all_params), strict=True):
        np.testing.assert_array_equal(x, y[2:3])


def test_eval_and_watch_read_an_export_as_its_run_directory(trained, tmp_path, capsys, monkeypatch):
    """...without building a trainer or a runner, or restoring a training state (each
    raises here)."""
    import purejaxdqn.train
    from purejaxdqn.run import checkpoint, runner
    from purejaxdqn.train import trainer

    def refused(*args, **kwargs):
        raise AssertionError("a trainer or runner was built, or the training state read")

    for module, name in ((trainer, "make_trainer"), (purejaxdqn.train, "make_trainer"),
                         (runner, "ChunkedRun"), (checkpoint, "restore_state")):  # fmt: skip
        monkeypatch.setattr(module, name, refused)
    run, out, _ = trained
    code, from_run, err = cli_main(capsys, "eval", run, "--episodes", 3, "--json")
    assert code == 0, err
    code, from_export, err = cli_main(capsys, "eval", out, "--episodes", 3, "--json")
    assert code == 0, err
    assert json.loads(from_export) == json.loads(from_run)
    gif = tmp_path / "agent.gif"
    code, printed, err = cli_main(capsys, "watch", out, "--out", gif, "--max-steps", 20)
    assert code == 0, err
    assert gif.stat().st_size > 0 and "return" in printed


def damage(kind):
    def mutate(folder):
        params, info = folder / export.PARAMS_FILE, folder / export.INFO_FILE
        if kind == "truncated":
            params.write_bytes(params.read_bytes()[:100])
        elif kind == "missing":
            params.unlink()
        elif kind == "json":
            info.write_text("{not json")
        elif kind == "foreign":
            info.write_text(json.dumps({"format": "something-else"}))
        elif kind == "version":
            info.write_text(json.dumps({**json.loads(info.read_text()), "format_version": 99}))

    return mutate


@pytest.mark.parametrize(
    "kind,message",
    [
        ("truncated", "damaged export"),
        ("missing", "incomplete export (policy.safetensors missing)"),
        ("json", "damaged export"),
        ("foreign", "not a purejaxdqn policy"),
        ("version", "policy format 99"),
    ],
)
def test_bad_exports_are_one_line_errors(trained, tmp_path, capsys, kind, message):
    import shutil

    _, out, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    damage(kind)(copy)
    code, _, err = cli_main(capsys, "eval", copy, "--episodes", 1)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_export_refuses_what_it_cannot_write(trained, tmp_path, capsys):
    run, out, _ = trained
    code, _, err = cli_main(capsys, "export", run, "--out", out)
    assert code == 2 and "already exists and is not empty; pass --force" in err
    code, _, err = cli_main(capsys, "export", run, "--seed-index", 3, "--out", tmp_path / "x")
    assert code == 2 and "the run has seeds 0 .. 2" in err
    code, _, err = cli_main(capsys, "export", out, "--out", tmp_path / "y")
    assert code == 2 and "is an export already" in err
    code, _, err = cli_main(capsys, "export", tmp_path / "nothing", "--out", tmp_path / "z")
    assert code == 2 and "does not exist" in err
