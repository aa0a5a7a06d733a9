"""The program cache: a second launch loads the compiled programs (no tracing) and runs
them to the same result; anything a program depends on changes its key; a corrupt entry
is compiled again."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
from jax.experimental.compilation_cache import compilation_cache as jax_cache

from purejaxdqn import cli
from purejaxdqn.run import compilation_cache
from purejaxdqn.run.runner import ChunkedRun
from tests.helpers import TINY_CLI_ARGS, tiny_config

ROOT = Path(__file__).resolve().parents[2]

# One launch: a tiny run of 2 seeds through ChunkedRun(program_cache=True); prints how
# many programs it loaded and what it computed.
_LAUNCH = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {root!r})
    import numpy as np, purejaxdqn
    from tests.helpers import tiny_config
    from purejaxdqn.run.runner import ChunkedRun

    purejaxdqn.enable_compilation_cache({cache!r})
    run = ChunkedRun(tiny_config(), num_seeds=2, seed=3, chunks=2, program_cache=True)
    run.compile()
    result = run.finish(run.run(run.init()), keep_state=False)
    print(json.dumps({{
        "loaded": run.programs_loaded,
        "final": np.asarray(result.final_eval_returns).tolist(),
        "evals": np.asarray(result.metrics.eval_return_mean).tolist(),
        "params": [np.asarray(x).tolist() for x in __import__("jax").tree.leaves(result.params)],
    }}))
    """
)


def _launch(cache: Path) -> dict:
    code = _LAUNCH.format(root=str(ROOT), cache=str(cache))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def cache_dir(tmp_path):
    """This process's JAX cache pointed at a fresh folder, and restored afterwards."""
    before = jax.config.jax_compilation_cache_dir
    compilation_cache.enable_compilation_cache(tmp_path / "xla")
    jax_cache.reset_cache()
    yield tmp_path / "xla"
    jax.config.update("jax_compilation_cache_dir", before)
    jax_cache.reset_cache()


def test_a_second_launch_loads_every_program_and_computes_the_same(tmp_path):
    cache = tmp_path / "xla"
    first, second = _launch(cache), _launch(cache)
    assert (first["loaded"], second["loaded"]) == (0, 3)
    assert second == {**first, "loaded": 3}
    # JAX's own cache now holds these programs too. A launch that finds them there but
    # not in the program cache must compile afresh: an executable loaded from a cache
    # and serialized again loses its kernels, and the launch after would fail to run.
    for entry in (cache / compilation_cache.PROGRAMS).iterdir():
        entry.unlink()
    third, fourth = _launch(cache), _launch(cache)
    assert (third["loaded"], fourth["loaded"]) == (0, 3)
    assert fourth == {**first, "loaded": 3}


def test_the_key_changes_with_everything_the_program_depends_on(monkeypatch):
    identity = {"config": tiny_config().to_dict(), "program": "run"}
    args = (jax.ShapeDtypeStruct((2, 3), np.float32), 0)
    key = compilation_cache.fingerprint(identity, args)
    assert compilation_cache.fingerprint(dict(identity), args) == key  # deterministic
    # a concrete argument and the abstract one it stands for give the same key
    assert compilation_cache.fingerprint(identity, (np.zeros((2, 3), np.float32), 0)) == key
    changed = {
        "config": {**identity, "config": tiny_config(batch_size=8).to_dict()},
        "program": {**identity, "program": "finish"},
    }
    for what, other in changed.items():
        assert compilation_cache.fingerprint(other, args) != key, what
    for other_args in [
        (jax.ShapeDtypeStruct((4, 3), np.float32), 0),
        (jax.ShapeDtypeStruct((2, 3), np.int32), 0),
        (jax.ShapeDtypeStruct((2, 3), np.float32), 0.0),
        ((jax.ShapeDtypeStruct((2, 3), np.float32),), 0),
    ]:
        assert compilation_cache.fingerprint(identity, other_args) != key, other_args
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=true")
    assert compilation_cache.fingerprint(identity, args) != key
    monkeypatch.delenv("XLA_FLAGS")
    monkeypatch.setattr(compilation_cache, "_host_cpu", lambda: "another CPU")
    assert compilation_cache.fingerprint(identity, args) != key
    monkeypatch.undo()
    monkeypatch.setattr(compilation_cache, "_source_digest", lambda: "an edited package")
    assert compilation_cache.fingerprint(identity, args) != key


def test_a_custom_env_or_no_cache_folder_skips_the_program_cache(cache_dir):
    import gymnax

    env, env_params = gymnax.make("CartPole-v1")  # an instance: its code is not in the key
    run = ChunkedRun(tiny_config(), 1, env=env, env_params=env_params, program_cache=True)
    run.compile()
    assert run.programs_loaded == 0
    assert not (cache_dir / compilation_cache.PROGRAMS).exists()


def test_jax_enable_compilation_cache_false_turns_the_program_cache_off(cache_dir):
    jax.config.update("jax_enable_compilation_cache", False)
    try:
        run = ChunkedRun(tiny_config(), num_seeds=1, chunks=1, program_cache=True)
        run.compile()
    finally:
        jax.config.update("jax_enable_compilation_cache", True)
    assert run.programs_loaded == 0
    assert not (cache_dir / compilation_cache.PROGRAMS).exists()


def test_the_program_cache_keeps_to_jax_max_size_least_recently_used_first(cache_dir):
    jitted, args = jax.jit(lambda x: x * 2.0), (np.zeros(3, np.float32),)

    def store(name):
        compilation_cache.compile_program(jitted, args, {"name": name})

    def loads(name):
        return compilation_cache.load_program(args, {"name": name}) is not None

    store("a")
    entry_size = next((cache_dir / compilation_cache.PROGRAMS).iterdir()).stat().st_size
    try:
        jax.config.update("jax_compilation_cache_max_size", int(2.5 * entry_size))
        store("b")
        assert loads("a")  # "a" is now used more recently than "b"
        store("c")  # three entries do not fit: "b" goes
        assert (loads("a"), loads("b"), loads("c")) == (True, False, True)
        assert len(list((cache_dir / compilation_cache.PROGRAMS).iterdir())) == 2
        jax.config.update("jax_compilation_cache_max_size", 0)  # 0: off, as for JAX's cache
        store("d")
        assert not loads("a") and not (cache_dir / compilation_cache.PROGRAMS / "d").exists()
    finally:
        jax.config.update("jax_compilation_cache_max_size", -1)
    assert len(list((cache_dir / compilation_cache.PROGRAMS).iterdir())) == 2


def test_program_cache_compiles_run_one_at_a_time_with_jax_cache_off(cache_dir):
    """Each entry is compiled with JAX's cache off (a global flag), so two threads' must
    not overlap (the second's restoring the flag would turn it on under the first), and a
    thread must not take the program cache for off meanwhile (it would not store)."""
    import threading
    import time

    inner = jax.jit(lambda x: x + 1.0)
    seen = {"running": 0, "most": 0, "flags": []}
    first_inside = threading.Event()

    class Jitted:  # records how many compiles overlap and the flag each one saw
        def lower(self, *args):
            lowered = inner.lower(*args)

            class Lowered:
                def compile(self):
                    seen["running"] += 1
                    seen["most"] = max(seen["most"], seen["running"])
                    seen["flags"].append(jax.config.jax_enable_compilation_cache)
                    first_inside.set()
                    time.sleep(0.3)
                    seen["running"] -= 1
                    return lowered.compile()

            return Lowered()

    args = (np.zeros(2, np.float32),)

    def store(n):
        return threading.Thread(
            target=compilation_cache.compile_program, args=(Jitted(), args, {"n": n})
        )

    threads = [store(0)]
    threads[0].start()
    assert first_inside.wait(timeout=60)  # the first compile holds JAX's cache off now
    threads += [store(1), store(2)]
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen["most"] == 1 and seen["flags"] == [False] * 3
    assert jax.config.jax_enable_compilation_cache
    assert all(compilation_cache.load_program(args, {"n": n}) for n in range(3))


def test_programs_compiled_together_overlap_and_each_is_kept(cache_dir):
    """`compile_programs` lowers each program while the ones before it compile in other
    threads, all with JAX's cache off, and stores every one."""
    import threading

    inner = jax.jit(lambda x: x * 3.0)
    together = threading.Barrier(3, timeout=60)  # broken unless all three compile at once
    flags = []

    class Jitted:
        def lower(self, *args):
            lowered = inner.lower(*args)

            class Lowered:
                def compile(self):
                    flags.append(jax.config.jax_enable_compilation_cache)
                    together.wait()
                    return lowered.compile()

            return Lowered()

    args = (np.zeros(2, np.float32),)
    compiled = compilation_cache.compile_programs(
        [(Jitted(), args, {"n": n}, None) for n in range(3)]
    )
    assert [float(c(*args)[0]) for c in compiled] == [0.0] * 3
    assert flags == [False] * 3 and jax.config.jax_enable_compilation_cache
    assert all(compilation_cache.load_program(args, {"n": n}) for n in range(3))
    # without a cache entry (identity None) they overlap too, with JAX's cache left on
    flags.clear()
    together.reset()
    compilation_cache.compile_programs([(Jitted(), args, None, None) for _ in range(3)])
    assert flags == [True] * 3


def test_a_corrupt_entry_warns_and_is_compiled_again(cache_dir):
    cfg = tiny_config()
    run = ChunkedRun(cfg, num_seeds=1, chunks=1, program_cache=True)
    run.compile()
    expected = np.asarray(run.finish(run.run(run.init())).final_eval_returns)
    entries = sorted((cache_dir / compilation_cache.PROGRAMS).iterdir())
    assert len(entries) == 3
    for entry in entries:
        entry.write_bytes(b"not a program")
    again = ChunkedRun(cfg, num_seeds=1, chunks=1, program_cache=True)
    with pytest.warns(UserWarning, match="program cache: .* is unreadable"):
        again.compile()
    assert again.programs_loaded == 0
    np.testing.assert_array_equal(
        np.asarray(again.finish(again.run(again.init())).final_eval_returns), expected
    )
    third = ChunkedRun(cfg, num_seeds=1, chunks=1, program_cache=True)
    third.compile()  # the replaced entries load
    assert third.programs_loaded == 3


def test_the_train_command_keeps_its_programs(cache_dir, tmp_path, capsys):
    args = [*TINY_CLI_ARGS, "--seeds", "2", "--no-progress", "--no-plot"]
    assert cli.main(["train", *args, "--out", str(tmp_path / "a")]) == 0
    entries = sorted((cache_dir / compilation_cache.PROGRAMS).iterdir())
    assert len(entries) == 3
    for entry in entries:
        entry.write_bytes(b"not a program")
    capsys.readouterr()
    assert cli.main(["train", *args, "--out", str(tmp_path / "b")]) == 0
    # each unreadable entry: one line, once (the init program is read twice: for the
    # memory plan, then to compile), and the run goes on
    warned = [line for line in capsys.readouterr().err.splitlines() if "program cache" in line]
    assert len(warned) == 3, warned
    assert all(line.startswith("purejaxdqn: warning: program cache: ") for line in warned)
