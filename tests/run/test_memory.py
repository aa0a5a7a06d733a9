"""Memory planning before compiling, and compact transitions."""

import jax

from purejaxdqn.run import memory
from purejaxdqn.run.runner import ChunkedRun
from tests.helpers import TINY_CLI_ARGS, cli_main, tiny_config


def test_plan_counts_the_state_and_bytes_per_transition():
    cfg = tiny_config()
    run = ChunkedRun(cfg, num_seeds=3)
    p = memory.plan(run.template, cfg.buffer_size, run.num_runs, 3)
    # CartPole: obs and next obs 4 float32 each, reward float32, action uint8, flag bool
    assert p["bytes_per_transition"] == 4 * 4 * 2 + 4 + 1 + 1
    buffer = cfg.buffer_size * p["bytes_per_transition"] * 3
    assert buffer < p["state_bytes"] < buffer * 1.5  # the buffer is most of the state
    assert p["fits"] and p["max_seeds"] > 1000


def test_memory_of_vmapped_state_matches_the_real_arrays():
    cfg = tiny_config()
    run = ChunkedRun(cfg, num_seeds=2)
    state = run.init()
    real = sum(
        x.nbytes if not jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else 8 * x.size
        for x in jax.tree.leaves(state)
    )
    assert memory.state_bytes(run.template) == real


def test_impossible_request_is_refused_with_the_largest_seed_count(tmp_path, capsys):
    out = tmp_path / "huge"
    # 10^9 transitions of 38 bytes per seed: no machine here holds even one seed
    args = ["train", "--out", out, "--no-progress", *TINY_CLI_ARGS,
            "--set", "buffer_size=1000000000"]  # fmt: skip
    code, _, err = cli_main(capsys, *args)
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert "the run needs about" in last and "not even one seed fits: lower buffer_size" in last
    assert not out.exists()  # refused before anything was written
    # 4 * 10^7 transitions (1.4 GiB) per seed: some seeds fit, not 10^4 of them
    args = ["train", "--out", out, "--no-progress", "--seeds", "10000", *TINY_CLI_ARGS,
            "--set", "buffer_size=40000000"]  # fmt: skip
    code, stdout, err = cli_main(capsys, *args)
    assert code == 2
    assert "seeds fit (--seeds " in err and "memory: " in stdout
