"""The `purejaxdqn` command, run as a user would: in a subprocess (its error paths and the
runs that need no fresh process in this process, through `cli.main`, the same function
the entry point calls)."""

import csv
import json
import os
import re
import subprocess
import sys

import pytest

from tests.helpers import TINY_CLI_ARGS, cli_main

TINY = TINY_CLI_ARGS


def run_cli(*args, cwd=None):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, "-m", "purejaxdqn", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    proc = run_cli("train", "--seeds", "2", "--out", str(out), "--no-progress", *TINY)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_train_writes_a_run_directory(run_dir):
    out, proc = run_dir
    assert "2 seeds" in proc.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["total_timesteps"] == 1400 and config["hidden_sizes"] == [16]
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "env_id",
        "num_seeds",
        "total_timesteps",
        "final_eval_return",
        "solved",
        "solve_env_step",
        "compile_time_s",
        "wall_time_s",
        "env_steps_per_s",
        "versions",
        "diverged",
        "diverged_env_step",
    ):
        assert key in summary
    assert summary["num_seeds"] == 2 and len(summary["final_eval_return"]) == 2
    assert set(summary["versions"]) == {"jax", "gymnax", "purejaxdqn"}
    assert "unknown" not in summary["versions"].values()
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert len(rows) == 2 * 3  # 2 seeds x 3 eval periods
    assert {
        "seed",
        "env_step",
        "episode_return_mean",
        "eval_return_mean",
        "loss",
        "epsilon",
        "wall_time_s",
        "diverged",
    } <= set(rows[0])
    assert (out / "learning_curve.png").stat().st_size > 10_000


def test_config_json_round_trips_through_the_command(run_dir, tmp_path, capsys):
    out, _ = run_dir
    again = tmp_path / "again"
    args = ("--config", out / "config.json", "--seeds", "2", "--no-progress", "--no-plot")
    code, _, err = cli_main(capsys, "train", *args, "--out", again)
    assert code == 0, err
    # same config, same seeds: the same results
    a = json.loads((out / "summary.json").read_text())["final_eval_return"]
    b = json.loads((again / "summary.json").read_text())["final_eval_return"]
    assert a == b


@pytest.mark.parametrize(
    "args, message",
    [
        (["--env", "NoSuchEnv-v0"], "env_id: unknown environment 'NoSuchEnv-v0'"),
        (["--preset", "nope"], "preset: unknown preset 'nope'"),
        (["--set", "learnin_rate=1e-3"], "--set learnin_rate: not a DQNConfig field"),
        (["--set", "gamma=2"], "gamma: must be in [0.0, 1.0]"),
        (["--set", "batch_size=100000"], "batch_size: must be <= buffer_size"),
        (["--set", "gamma"], "expected FIELD=VALUE"),
        (["--set", "batch_size=abc"], "--set batch_size: expected integer, got 'abc'"),
        (["--set", "batch_size=1.5"], "--set batch_size: expected integer, got '1.5'"),
        (["--set", "double_q=yes"], "--set double_q: expected true or false, got 'yes'"),
        (["--set", "gamma=high"], "--set gamma: expected number, got 'high'"),
        (["--set", "max_grad_norm=x"], "--set max_grad_norm: expected number or none, got 'x'"),
        (
            ["--set", "hidden_sizes=a,b"],
            "--set hidden_sizes: expected comma-separated integers, got 'a,b'",
        ),
        (["--seeds", "0"], "seeds: must be >= 1"),
        (["--config", "/no/such/config.json"], "no such file"),
        (
            ["--env", "Pendulum-v1", "--solve-threshold", "-200"],
            "env_id: Pendulum-v1 has a continuous action space",
        ),
        (
            ["--preset", "cartpole", "--env", "Catch-bsuite"],  # cartpole freezes when solved
            "solve_threshold: Catch-bsuite has no registered threshold",
        ),
        (["--devices", "0"], "--devices: must be in 1..1, got 0"),
        (["--num-processes", "2", "--process-id", "2"], "--process-id: must be in 0..1, got 2"),
    ],
)
def test_bad_input_is_one_line_error(args, message, tmp_path, capsys):
    code, _, err = cli_main(capsys, "train", "--out", tmp_path / "x", "--no-progress", *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert message in lines[0]
    assert not (tmp_path / "x").exists()


def test_bad_input_from_the_entry_point_is_one_line_too(tmp_path):
    proc = run_cli("train", "--out", str(tmp_path / "x"), "--set", "gamma=2")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "gamma: must be in [0.0, 1.0]" in proc.stderr


def test_refuses_to_overwrite_a_run_without_force(run_dir):
    out, _ = run_dir
    before = (out / "summary.json").read_text()
    proc = run_cli("train", "--out", str(out), "--no-progress", *TINY)
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert (out / "summary.json").read_text() == before


@pytest.mark.parametrize(
    "command, expected",
    [
        ("train", ["else cartpole", "--total-timesteps", "--resume", "(default: 8)"]),
        ("eval", ["--episodes", "(default: 100)", "--backend", "(default: gymnax)", "--json"]),
        ("watch", ["--seed-index", "(default: 0)", "(default: agent.gif)", "--human"]),
        ("inspect", ["env_id", "--episodes", "(default: 100)"]),
    ],
)
def test_every_command_has_help_with_defaults(command, expected):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0
    for text in expected:
        assert text in proc.stdout, (text, proc.stdout)


def test_unknown_flag_and_command_exit_nonzero():
    for args in (["train", "--bogus"], ["fly"]):
        proc = run_cli(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_force_replaces_the_old_run_entirely(tmp_path, capsys):
    target = tmp_path / "forced"
    target.mkdir()
    (target / "summary.json").write_text("{}")
    (target / "checkpoints").mkdir()
    (target / "checkpoints" / "latest.ckpt").write_text("old run")
    args = ("--out", target, "--force", "--no-progress", "--no-plot", *TINY)
    code, _, err = cli_main(capsys, "train", *args)
    assert code == 0, err
    assert json.loads((target / "summary.json").read_text())["num_seeds"] == 8
    assert not (target / "checkpoints" / "latest.ckpt").exists()  # the old run's, gone
    assert [p.name.isdigit() for p in (target / "checkpoints").iterdir()] == [True]  # final


def test_an_env_preset_switched_to_another_algorithm_says_what_it_kept(capsys):
    from purejaxdqn import cli, presets

    args = cli.build_parser().parse_args(["train", "--env", "Acrobot-v1", "--set", "algorithm=pqn"])
    cfg = cli.resolve_config(args)
    out = capsys.readouterr().out
    assert cfg.algorithm == "pqn" and cfg.env_id == "Acrobot-v1"
    assert cfg.gamma == presets.acrobot().gamma and cfg.num_steps == presets.pqn().num_steps
    assert "its fields from its own preset; kept from the dqn config (or set for the env):" in out
    assert "env_id" in out.splitlines()[-1] and "n_step" not in out.splitlines()[-1]
    minatar = cli.build_parser().parse_args(
        ["train", "--env", "Asterix-MinAtar", "--set", "algorithm=pqn"]
    )
    assert cli.resolve_config(minatar).num_envs == presets.pqn_minatar().num_envs
    c51 = cli.build_parser().parse_args(["train", "--env", "Acrobot-v1", "--set", "algorithm=c51"])
    assert (cli.resolve_config(c51).v_min, cli.resolve_config(c51).v_max) == (-100.0, 0.0)
    dqn = cli.resolve_config(cli.build_parser().parse_args(["train", "--env", "Asterix-MinAtar"]))
    assert dqn == presets.minatar_breakout().replace(env_id="Asterix-MinAtar")


USAGE_ERRORS = [
    # (argv, what the one line names)
    (["train", "--seeds", "many"], "invalid int value: 'many'"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "--set"], "expected one argument"),
    (["sweep", "--random", "x"], "invalid int value: 'x'"),
    (["sweep", "--no-such-flag", "1"], "unrecognized arguments: --no-such-flag 1"),
    (["eval"], "the following arguments are required: run_dir"),
    (["eval", "runs/x", "--episodes", "1.5"], "invalid int value: '1.5'"),
    (["watch", "runs/x", "--seed-index"], "expected one argument"),
    (["watch", "runs/x", "--colour"], "unrecognized arguments: --colour"),
    (["inspect", "CartPole-v1", "--episodes", "lots"], "invalid int value: 'lots'"),
    (["export", "runs/x"], "the following arguments are required: --out"),
    (["export", "runs/x", "--all", "--seed-index", "1", "--out", "p"], "not allowed with"),
    (["train", "--log", "mlflow"], "invalid choice: 'mlflow'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "the following arguments are required: COMMAND"),
]


@pytest.mark.parametrize("argv,named", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_every_usage_error_is_one_line_with_a_hint_to_help(capsys, argv, named):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(capsys, *argv)
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert named in lines[0]
    assert "usage:" not in err
    command = (
        argv[0]
        if argv and argv[0] in ("train", "sweep", "eval", "watch", "export", "inspect")
        else ""
    )
    assert lines[0].startswith(f"purejaxdqn {command}".strip() + ": error: ")
    assert lines[0].endswith(f"(see {f'purejaxdqn {command}'.strip()} --help)")


def test_progress_without_a_terminal_is_plain_lines(tmp_path, capsys):
    """stdout captured (not a TTY): plain "progress:" lines, no carriage-return redraws;
    the last one, after the final chunk, has every planned step."""
    code, out, err = cli_main(capsys, "train", "--out", tmp_path / "p", "--no-plot", *TINY)
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("progress: ")]
    assert lines and "\r" not in out + err
    done, planned = lines[-1].split()[1].split("/")
    assert done == planned
    assert "steps/s, greedy" in lines[-1] and "frozen" in lines[-1]


def test_the_progress_total_follows_seeds_that_stop_early():
    from types import SimpleNamespace

    import numpy as np

    from purejaxdqn import presets
    from purejaxdqn.run.runner import planned_steps

    config = presets.cartpole()  # 20 periods of 5000 env steps
    progress = SimpleNamespace(
        env_step=np.array([30_000, 40_000, 10_000]),
        frozen=np.array([True, False, False]),
        diverged=np.array([False, False, True]),
    )
    state = SimpleNamespace(progress=progress)
    assert planned_steps(config, state) == 30_000 + config.num_periods * 5000 + 10_000


def test_a_20_chunk_run_under_nohup_writes_at_most_25_lines(tmp_path):
    """stdout and stderr to a file, as nohup leaves them: every line counted, '\\r' too."""
    log = tmp_path / "nohup.out"
    with log.open("w") as sink:
        proc = subprocess.run(
            [sys.executable, "-m", "purejaxdqn", "train", "--out", str(tmp_path / "n"),
             "--seeds", "2", "--no-plot", "--chunks", "20", *TINY,
             "--set", "eval_frequency=200", "--set", "total_timesteps=4000"],
            stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "JAX_PLATFORMS": "cpu"},
            timeout=300,
        )  # fmt: skip
    text = log.read_text()
    assert proc.returncode == 0, text
    assert len(json.loads((tmp_path / "n" / "summary.json").read_text())["solved"]) == 2
    assert 0 < len(re.split(r"\r\n|\r|\n", text.rstrip())) <= 25, text
    assert "progress: " in text
