"""Run directories: resume after SIGKILL/SIGINT, chunked == single call, eval, watch,
inspect, load_policy, and the errors for bad run directories and checkpoints."""

import csv
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from PIL import Image, ImageSequence

import purejaxdqn
from purejaxdqn.run import run_dir as runs
from tests.helpers import cli_main

# 20 periods of 2000 env steps, one period per chunk: long enough to kill it in flight.
LONG = [
    "--set",
    "num_envs=2",
    "--set",
    "buffer_size=2000",
    "--set",
    "batch_size=64",
    "--set",
    "learning_starts=200",
    "--set",
    "eval_frequency=2000",
    "--set",
    "total_timesteps=40200",
    "--set",
    "eval_episodes=4",
    "--set",
    "gradient_steps=2",
    "--set",
    "hidden_sizes=32",
    "--set",
    "target_update_frequency=200",
    "--set",
    "freeze_when_solved=false",
    "--seeds",
    "2",
    "--chunks",
    "20",
    "--checkpoint-every",
    "0",
    "--no-plot",
    "--no-progress",
]


def cli(*args):
    return [sys.executable, "-m", "purejaxdqn", *map(str, args)]


def env():
    return {**os.environ, "JAX_PLATFORMS": "cpu"}


def run(*args, timeout=300):
    return subprocess.run(cli(*args), capture_output=True, text=True, env=env(), timeout=timeout)


def committed(out):
    """The run's complete (committed) checkpoint folders, oldest first."""
    folder = runs.checkpoints_dir(out)
    steps = (
        sorted(int(p.name) for p in folder.glob("*") if p.name.isdigit()) if folder.is_dir() else []
    )
    return [folder / str(n) for n in steps]


def checkpoint_period(out):
    """The period of the run's latest complete checkpoint (-1: none yet)."""
    try:
        return json.loads((committed(out)[-1] / "meta" / "metadata").read_text())["period"]
    except (OSError, ValueError, KeyError, IndexError):
        return -1


def interrupt(out, sig, at_period, extra=()):
    """Starts a run, sends `sig` once its checkpoint has passed `at_period`."""
    proc = subprocess.Popen(
        cli("train", "--out", out, *LONG, *extra),
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 240
    while checkpoint_period(out) < at_period and proc.poll() is None and time.time() < deadline:
        time.sleep(0.002)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert not (out / "summary.json").exists()
    return proc.returncode, stderr


def results(out):
    """Everything a run produced except timings."""
    summary = json.loads((out / "summary.json").read_text())
    for k in ("compile_time_s", "wall_time_s", "env_steps_per_s"):
        summary.pop(k)
    rows = [
        {k: v for k, v in r.items() if k != "wall_time_s"}
        for r in csv.DictReader((out / "metrics.csv").open())
    ]
    config, params, _ = runs.load_params(out)
    return summary, rows, [np.asarray(x) for x in jax.tree.leaves(params)]


def assert_same(a, b):
    assert a[0] == b[0] and a[1] == b[1]
    for x, y in zip(a[2], b[2], strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "whole"
    proc = run("train", "--out", out, *LONG)
    assert proc.returncode == 0, proc.stderr
    return out


def test_chunked_cli_run_equals_single_train_call(uninterrupted):
    config, params, _ = runs.load_params(uninterrupted)
    keys = jax.random.split(jax.random.key(0), 2)
    whole = jax.jit(jax.vmap(purejaxdqn.make_train(config)))(keys)
    for x, y in zip(jax.tree.leaves(params), jax.tree.leaves(whole.params), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    summary = json.loads((uninterrupted / "summary.json").read_text())
    final = np.asarray(whole.final_eval_returns).mean(-1)
    np.testing.assert_allclose(summary["final_eval_return"], final, rtol=1e-6)


def test_resume_after_sigkill_is_bit_for_bit(uninterrupted, tmp_path):
    """Logging to TensorBoard as it goes: the resumed run continues the curves too
    (checked in tests/run/test_loggers.py, on this run)."""
    out = tmp_path / "killed"
    logged = ("--log", "tensorboard", "--log-seeds", "1")
    code, _ = interrupt(out, signal.SIGKILL, at_period=4, extra=logged)
    assert code == -signal.SIGKILL
    assert 4 <= checkpoint_period(out) < 20
    before = json.loads((out / "logged.json").read_text())["tensorboard"]
    proc = run("train", "--resume", out, "--no-progress", "--no-plot")
    assert proc.returncode == 0, proc.stderr
    assert_same(results(out), results(uninterrupted))
    from tests.run.test_loggers import assert_curves_continue

    assert_curves_continue(out, before)


# Ctrl-C takes the handler SIGTERM takes (train._stop_on_signals): the suite runs one.
@pytest.mark.parametrize(
    "sig", [pytest.param(signal.SIGINT, marks=pytest.mark.slow), signal.SIGTERM]
)
def test_ctrl_c_and_sigterm_checkpoint_then_resume(uninterrupted, tmp_path, sig):
    out = tmp_path / "stopped"
    code, stderr = interrupt(out, sig, at_period=2)
    assert code == 128 + sig
    assert "checkpoint saved" in stderr and f"--resume {out}" in stderr
    assert "Traceback" not in stderr
    proc = run("train", "--resume", out, "--no-progress", "--no-plot")
    assert proc.returncode == 0, proc.stderr
    assert_same(results(out), results(uninterrupted))


def test_resume_refuses_finished_runs_and_config_flags(uninterrupted, capsys):
    code, _, err = cli_main(capsys, "train", "--resume", uninterrupted)
    assert code == 2 and "finished already" in err
    code, _, err = cli_main(capsys, "train", "--resume", uninterrupted, "--set", "gamma=0.5")
    assert code == 2 and "drop --set" in err


def corrupt_copy(src, dst, mutate):
    """A copy of run `src` with its latest checkpoint only, `mutate(folder)` applied."""
    dst.mkdir()
    for name in ("config.json", "run.json"):
        (dst / name).write_bytes((src / name).read_bytes())
    latest = committed(src)[-1]
    shutil.copytree(latest, runs.checkpoints_dir(dst) / latest.name)
    mutate(runs.checkpoints_dir(dst) / latest.name)


def data_files(folder):
    """Every array-data file of the state and params items (ocdbt may leave files the
    manifest no longer points to: each is changed, so the ones read are)."""
    return [f for item in ("state", "params") for f in (folder / item).rglob("d/*")]


def truncate(folder):
    for f in data_files(folder):
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def flip_bits(folder):
    """One bit in every 97 bytes of every data file: a single flipped byte can land in a
    stretch of an ocdbt file that no read touches (then the checkpoint is intact)."""
    for f in data_files(folder):
        data = bytearray(f.read_bytes())
        for i in range(0, len(data), 97):
            data[i] ^= 0x01
        f.write_bytes(bytes(data))


def edit_meta(change):
    def mutate(folder):
        meta = folder / "meta" / "metadata"
        meta.write_text(json.dumps(change(json.loads(meta.read_text()))))

    return mutate


def wrong_digests(meta):
    """As if arrays had changed where orbax cannot see it: only our digest tells."""
    for digests in (meta["digest"], meta["params_digest"]):
        digests["0"][0] ^= 1
    return meta


def other_config(meta):
    meta["config"]["gamma"] = 0.5
    meta["config"]["batch_size"] = 32
    return meta


@pytest.mark.parametrize(
    "mutate, message",
    [
        (truncate, "corrupt checkpoint"),
        (flip_bits, "corrupt checkpoint"),
        (lambda f: (f / "meta" / "metadata").write_text("garbage"), "corrupt checkpoint"),
        (edit_meta(wrong_digests), "corrupt checkpoint (checksum mismatch)"),
        (edit_meta(other_config), "another config (fields differ: batch_size, gamma)"),
    ],
    ids=["truncated", "flipped-bits", "garbage-meta", "digest", "foreign"],
)
def test_bad_checkpoints_are_one_line_errors(uninterrupted, tmp_path, mutate, message, capsys):
    bad = tmp_path / "bad"
    corrupt_copy(uninterrupted, bad, mutate)
    before = {p: p.read_bytes() for p in runs.checkpoints_dir(bad).rglob("*") if p.is_file()}
    for args in (
        ("train", "--resume", bad),
        ("eval", bad),
        ("watch", bad, "--out", tmp_path / "a.gif"),
    ):
        code, _, err = cli_main(capsys, *args)
        assert code == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], err
    after = {p: p.read_bytes() for p in runs.checkpoints_dir(bad).rglob("*") if p.is_file()}
    assert after == before  # nothing overwritten


@pytest.mark.parametrize("command", ["eval", "watch"])
def test_missing_or_non_run_directories(tmp_path, command, capsys):
    code, _, err = cli_main(capsys, command, tmp_path / "nope")
    assert code == 2 and "run directory does not exist" in err
    code, _, err = cli_main(capsys, command, tmp_path)
    assert code == 2 and "not a purejaxdqn run directory" in err
    code, _, err = cli_main(capsys, "train", "--resume", tmp_path)
    assert code == 2 and "not a purejaxdqn run directory" in err


def test_eval_table_json_and_gymnasium_backend(uninterrupted, capsys):
    proc = run("eval", uninterrupted, "--episodes", "3", "--json")  # the entry point, once
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["backend"] == "gymnax" and len(data["seeds"]) == 2
    assert all(s["episodes"] == 3 and s["mean"] > 0 for s in data["seeds"])
    code, out, _ = cli_main(capsys, "eval", uninterrupted, "--episodes", "3")
    assert code == 0 and "seed      mean       std" in out
    args = ("eval", uninterrupted, "--episodes", "2", "--backend", "gymnasium", "--json")
    code, out, err = cli_main(capsys, *args)
    assert code == 0, err
    assert len(json.loads(out)["seeds"]) == 2


@pytest.mark.parametrize("key_impl", ["philox4x32", "threefry2x32"])
def test_eval_draws_each_seeds_episodes_as_a_run_draws_its_keys(key_impl):
    """`eval --seed S`: one key per seed split from S, drawn with the run's key_impl (as
    runner.py seeds a run); a seed's returns do not depend on the seeds beside it."""
    from purejaxdqn.agents import make_agent
    from purejaxdqn.cli import eval as eval_command
    from purejaxdqn.core import envs, prng
    from purejaxdqn.core.evaluation import make_evaluate
    from purejaxdqn.run.policy import select_seed

    config = purejaxdqn.presets.cartpole().replace(hidden_sizes=(8,), key_impl=key_impl)
    env, env_params = envs.make_env(config.env_id)
    agent = make_agent(config, env, env_params)
    obs = np.zeros((1, 4), np.float32)
    params = jax.vmap(agent.network.init, (0, None))(jax.random.split(jax.random.key(3), 3), obs)
    returns = eval_command.gymnax_returns(config, params, None, 6, seed=7)
    assert returns.shape == (3, 6) and np.ptp(returns) > 0  # untrained: episodes differ
    evaluate = jax.jit(make_evaluate(env, env_params, agent.q_values, 6))
    for i, key in enumerate(jax.random.split(jax.random.key(7), 3)):
        expected = evaluate(prng.as_run_key(key, key_impl), select_seed(params, i, True))
        np.testing.assert_array_equal(returns[i], expected)
    first = eval_command.gymnax_returns(config, jax.tree.map(lambda x: x[:1], params), None, 6, 7)
    np.testing.assert_array_equal(first[0], returns[0])


def test_load_policy_matches_the_saved_parameters(uninterrupted):
    config, params, _ = runs.load_params(uninterrupted)
    policy = purejaxdqn.load_policy(uninterrupted, seed_index=1)
    from tests.helpers import cartpole_q_network

    net = cartpole_q_network(config)
    obs = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    p1 = jax.tree.map(lambda x: x[1], params)
    np.testing.assert_array_equal(
        [policy(o) for o in obs], np.argmax(np.asarray(net.apply(p1, obs)), -1)
    )
    with pytest.raises(ValueError, match="seed_index"):
        purejaxdqn.load_policy(uninterrupted, seed_index=2)


def test_watch_writes_a_moving_gif(uninterrupted, tmp_path, capsys):
    out = tmp_path / "agent.gif"
    code, _, err = cli_main(
        capsys, "watch", uninterrupted, "--seed-index", "1", "--out", out, "--max-steps", "40"
    )
    assert code == 0, err
    frames = [
        np.asarray(f.convert("L"), dtype=np.int16) for f in ImageSequence.Iterator(Image.open(out))
    ]
    assert len(frames) >= 5
    assert all(f.std() > 5 for f in frames)  # not blank
    assert np.abs(frames[0] - frames[-1]).mean() > 0.5  # the cart and pole moved


def test_inspect_prints_spaces_meanings_and_random_return(capsys):
    code, out, err = cli_main(capsys, "inspect", "CartPole-v1")
    assert code == 0, err
    assert "action space: Discrete(2)" in out and "obs[2] theta" in out
    mean = float(out.split("mean return ")[1].split()[0])
    assert 15 < mean < 35  # a random CartPole policy lasts about 22 steps
    code, _, err = cli_main(capsys, "inspect", "NoSuchEnv-v0")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_five_sigkills_in_a_row_each_during_a_save_then_resume_is_bit_for_bit(
    uninterrupted, tmp_path
):
    """Killed five times, each time in the middle of an asynchronous save (the test hook
    pauses save N before orbax commits it): the previous checkpoint is used each time."""
    from purejaxdqn.run import checkpoint

    out, paused = tmp_path / "five", tmp_path / "paused"
    kill_at = np.sort(np.random.default_rng(0).choice(np.arange(1, 19), size=5, replace=False))
    for i, at in enumerate(kill_at):
        again = ("--resume", out, "--no-progress", "--no-plot", "--checkpoint-every", "0")
        args = ("--out", out, *LONG) if i == 0 else again
        hook = {checkpoint.PAUSE_SAVE: str(at), checkpoint.PAUSE_FILE: str(paused)}
        proc = subprocess.Popen(
            cli("train", *args),
            env={**env(), **hook},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 240
        while not paused.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, (i, at, [p.name for p in runs.checkpoints_dir(out).iterdir()])
        proc.kill()
        proc.wait()
        paused.unlink()
        assert proc.returncode == -signal.SIGKILL
        assert [int(p.name) for p in committed(out)][-1] == at - 1  # save `at` never committed
        assert not (out / "summary.json").exists()
    proc = run("train", "--resume", out, "--no-progress", "--no-plot")
    assert proc.returncode == 0, proc.stderr
    assert_same(results(out), results(uninterrupted))


def test_killed_before_the_first_checkpoint_resumes_from_the_start(uninterrupted, tmp_path):
    out = tmp_path / "early"
    proc = subprocess.Popen(
        cli("train", "--out", out, *LONG), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.time() + 60
    while not (out / "run.json").exists() and time.time() < deadline:
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    if runs.checkpoints_dir(out).exists():  # too late already: remove it to test the case
        shutil.rmtree(runs.checkpoints_dir(out))
    done = run("train", "--resume", out, "--no-progress", "--no-plot")
    assert done.returncode == 0, done.stderr
    assert "starting it from the beginning" in done.stderr
    assert_same(results(out), results(uninterrupted))


@pytest.mark.parametrize(
    "code, text", [(errno.ENOSPC, "No space left on device"), (errno.EACCES, "Permission denied")]
)
def test_failed_checkpoint_write_stops_cleanly_and_keeps_the_last_one(
    tmp_path, monkeypatch, capsys, code, text
):
    """A failing third checkpoint write (disk full, permission denied): one-line error,
    exit 1, the earlier checkpoints intact and resumable."""
    from purejaxdqn import cli as cli_mod
    from purejaxdqn.run import checkpoint

    out = tmp_path / "full"
    real, calls = checkpoint._Meta.async_save, []

    async def failing(self, directory, item=None, args=None):
        calls.append(directory)
        if len(calls) == 3:
            raise OSError(code, text)
        return await real(self, directory, item=item, args=args)

    monkeypatch.setattr(checkpoint._Meta, "async_save", failing)
    status = cli_mod.main(["train", "--out", str(out), *LONG])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert len(err) == 1 and text in err[0]
    assert "checkpoint 1 is intact" in err[0]
    assert checkpoint_period(out) == 2  # written after chunks 1 and 2; chunk 3's write failed
    assert not (out / "summary.json").exists()
    monkeypatch.setattr(checkpoint._Meta, "async_save", real)
    assert cli_mod.main(["train", "--resume", str(out), "--no-progress", "--no-plot"]) == 0
    assert all(p.name.isdigit() for p in runs.checkpoints_dir(out).iterdir())  # no partial one


@pytest.mark.parametrize("every, saves", [("0", 20), ("3600", 1)])
def test_checkpoint_every_spaces_the_writes_and_always_keeps_the_final_state(
    tmp_path, monkeypatch, every, saves
):
    """0 s: after each of the 19 unfinished chunks, then the final state; an hour: only the
    final state (the one eval, watch and load_policy read)."""
    from purejaxdqn import cli as cli_mod
    from purejaxdqn.run import checkpoint

    real_save, periods = checkpoint.save, []

    def save(mgr, number, state, params, meta):
        periods.append(meta["period"])
        return real_save(mgr, number, state, params, meta)

    monkeypatch.setattr(checkpoint, "save", save)
    out = tmp_path / "spaced"
    assert cli_mod.main(["train", "--out", str(out), *LONG, "--checkpoint-every", every]) == 0
    assert len(periods) == saves and periods[-1] == 20
    assert periods == sorted(periods)
    assert checkpoint_period(out) == 20


def test_checkpoint_from_another_version_is_refused(uninterrupted, tmp_path, capsys):
    def other_version(meta):
        return {**meta, "purejaxdqn": "0.0.1"}

    bad = tmp_path / "old"
    corrupt_copy(uninterrupted, bad, edit_meta(other_version))
    code, _, err = cli_main(capsys, "eval", bad)
    assert code == 2
    assert "written by purejaxdqn 0.0.1, this is" in err

    old_format = tmp_path / "format3"
    corrupt_copy(uninterrupted, old_format, edit_meta(lambda meta: {**meta, "format": 3}))
    code, _, err = cli_main(capsys, "eval", old_format)
    assert code == 2
    assert err.count("\n") == 1, err
    assert "checkpoint format 3, this purejaxdqn reads format 4" in err


def test_a_run_directory_of_the_msgpack_format_is_refused_naming_its_version(
    uninterrupted, tmp_path, capsys
):
    old = tmp_path / "msgpack"
    old.mkdir()
    for name in ("config.json", "run.json"):
        (old / name).write_bytes((uninterrupted / name).read_bytes())
    (old / "checkpoints").mkdir()
    header = {"format": 3, "purejaxdqn": "0.3.0", "payload_bytes": 0, "sha256": ""}
    (old / "checkpoints" / "latest.ckpt").write_bytes(json.dumps(header).encode() + b"\n")
    for args in (("train", "--resume", old), ("eval", old)):
        code, _, err = cli_main(capsys, *args)
        assert code == 2 and err.count("\n") == 1, err
        assert "written by purejaxdqn 0.3.0); finish it with that release" in err


def test_a_second_writer_of_a_live_run_is_refused_and_the_run_is_untouched(
    uninterrupted, tmp_path, capsys
):
    out = tmp_path / "live"
    proc = subprocess.Popen(
        cli("train", "--out", out, *LONG), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.time() + 240
    while checkpoint_period(out) < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before a second writer could try"
    for argv in (["--resume", out], ["--out", out, "--force", *LONG], ["--out", out, *LONG]):
        code, _, err = cli_main(capsys, "train", *argv)
        assert code != 0
        assert len(err.strip().splitlines()) == 1, err
        if "--force" in argv or "--resume" in argv:  # without --force: "already exists"
            assert f"PID {proc.pid}" in err and "another purejaxdqn is writing it" in err
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr
    assert_same(results(out), results(uninterrupted))
