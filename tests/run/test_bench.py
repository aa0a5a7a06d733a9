"""`purejaxdqn bench`: a row per seed count with every figure it promises, the ratio of
the two rates, JSON and the plot; bad flags are one line. (No speed is asserted here.)"""

import json

import pytest

from tests.helpers import cli_main, tiny_config


def test_bench_writes_a_row_per_seed_count(tmp_path, capsys):
    config = tmp_path / "tiny.json"
    config.write_text(tiny_config().to_json())
    figures, plot = tmp_path / "bench.json", tmp_path / "bench.png"
    code, out, err = cli_main(
        capsys, "bench", "--config", config, "--seeds", "1,2", "--steps", 1200, "--repeats", 1,
        "--json", figures, "--plot", plot,
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(figures.read_text())
    assert data["command"].startswith(f"purejaxdqn bench --config {config} --seeds 1,2")
    assert data["config"]["total_timesteps"] == 1200 and not data["config"]["freeze_when_solved"]
    assert {"device", "devices", "platform", "versions"} <= set(data["machine"])
    assert [r["seeds"] for r in data["rows"]] == [1, 2]
    for row in data["rows"]:
        assert row["env_steps"] == row["seeds"] * 1200
        assert row["compile_s"] > 0 and row["env_steps_per_s"] > 0
        assert row["fraction_of_env_only"] == pytest.approx(
            row["env_steps_per_s"] / row["env_only_steps_per_s"], rel=1e-2
        )
        assert row["bytes_per_seed"] > 0
    assert "steps/s learning" in out and "device: " in out and "gymnax" in out
    assert plot.stat().st_size > 10_000


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--seeds", "1,x"], "--seeds 1,x: expected comma-separated integers"),
        (["--seeds", "0"], "every count must be >= 1"),
        (["--steps", "0"], "must be >= 1"),
        (["--preset", "nope"], "unknown preset 'nope'"),
    ],
)
def test_bench_refuses_bad_flags_in_one_line(capsys, flags, message):
    code, _, err = cli_main(capsys, "bench", *flags)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_steps_the_preset_cannot_take_are_refused_before_compiling(capsys):
    code, out, err = cli_main(capsys, "bench", "--preset", "pqn", "--steps", 4096)
    assert code == 2 and "total_timesteps: must be >= eval_frequency" in err
    assert out == ""  # nothing measured
