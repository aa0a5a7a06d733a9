"""purejaxdqn's PQN beside purejaxql's (its `pqn_gymnax.py`, unchanged, in its own venv)
and rejax's (its `PQN` at its own CartPole config), in one run: equal work, and time to
solve CartPole-v1 with 8 seeds.

    bash benchmarks/setup_purejaxql_venv.sh /path/to/purejaxql    # once
    bash benchmarks/setup_rejax_venv.sh                          # once
    python benchmarks/pqn_peers.py                       # purejaxql's parts, ~40 min on 2 cores
    python benchmarks/pqn_peers.py --parts solve --seeds 8
    python benchmarks/pqn_peers.py --parts rejax-equal,rejax-solve --seeds 8

Parts (each figure is compile and run apart, then env steps per second of the run):
- `equal-tested`: purejaxql's CartPole config with its test during training (128 greedy
  envs every 12 of 240 updates), and purejaxdqn's `pqn` at the same config: 240 updates of
  32 envs x 64 steps (491,520 env steps), 4 epochs x 16 minibatches, a 256 x 256 LayerNorm
  MLP, Q(0.95), rewards x 0.1, Adam 1e-4 decaying linearly, epsilon 1 -> 0.2 over the
  first 100k steps, a greedy evaluation of 128 episodes every 24,576 env steps;
- `equal-untested`: the same without purejaxql's test during training, and purejaxdqn
  with one evaluation period (its two evaluations, the period's and the final one, are
  work purejaxql does not do);
- `solve`: purejaxql's own CartPole config unchanged (500k env steps) against
  `purejaxdqn train --preset pqn` (which freezes seeds once solved), 8 seeds; solved =
  final greedy return >= 475 on 100 fresh episodes, the same evaluation for both.
- `rejax-equal`: rejax 0.1.3's own CartPole PQN config (configs/gymnax/cartpole.yaml of
  its sdist: 16 envs x 128 steps, 5 epochs x 16 minibatches, a 64 x 64 LayerNorm MLP,
  Adam 3e-4 with gradients clipped at 10, Q(0.9), epsilon 1 -> 0.05 over half of 524,288
  env steps, 128 evaluation episodes every 16,384 env steps) against purejaxdqn's `pqn`
  at the same config (`rejax_config`);
- `rejax-solve`: that rejax config with 8 seeds against `purejaxdqn train --preset pqn`.
Not matched: purejaxql uses RAdam (purejaxdqn Adam) and a BatchNorm layer whose output is
unused ("dummy normalize input"); its test runs 500 steps of every test env whatever the
episodes (purejaxdqn stops once all have ended). rejax's evaluations during training act
with epsilon 0.005 (purejaxdqn's greedily), and rejax evaluates once more, before
training. Writes benchmarks/results/pqn_peers.json (`--json`) and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from machine import machine  # benchmarks/machine.py

import purejaxdqn

HERE = Path(__file__).parent
RESULTS = HERE / "results"
VENV = HERE / ".venv-purejaxql" / "bin" / "python"
REJAX_VENV = HERE / ".venv-rejax" / "bin" / "python"
UPDATES = 240  # of 32 envs x 64 steps: 491,520 env steps, 20 tests every 12 updates


def equal_config(tested: bool) -> purejaxdqn.DQNConfig:
    """purejaxdqn's PQN at purejaxql's CartPole config (pqn_cartpole.yaml)."""
    rollout = 32 * 64
    total = UPDATES * rollout
    return purejaxdqn.DQNConfig(
        env_id="CartPole-v1",
        algorithm="pqn",
        total_timesteps=total,
        num_envs=32,
        num_steps=64,
        num_epochs=4,
        num_minibatches=16,
        hidden_sizes=(256, 256),
        layer_norm=True,
        learning_rate=1e-4,
        learning_rate_schedule="linear",
        learning_rate_end=0.0,
        max_grad_norm=10.0,
        gamma=0.99,
        q_lambda=0.95,
        reward_scale=0.1,
        epsilon_start=1.0,
        epsilon_end=0.2,
        epsilon_decay_steps=int(0.2 * (500_000 // rollout) * rollout),
        eval_frequency=12 * rollout if tested else total,
        eval_episodes=128,
    )


def rejax_config() -> purejaxdqn.DQNConfig:
    """purejaxdqn's PQN at rejax's CartPole PQN config (its cartpole.yaml, `pqn`)."""
    total = 524_288
    return purejaxdqn.DQNConfig(
        env_id="CartPole-v1",
        algorithm="pqn",
        total_timesteps=total,
        num_envs=16,
        num_steps=128,
        num_epochs=5,
        num_minibatches=16,
        hidden_sizes=(64, 64),
        layer_norm=True,
        learning_rate=3e-4,
        max_grad_norm=10.0,
        gamma=0.99,
        q_lambda=0.9,
        epsilon_start=1.0,
        epsilon_end=0.05,
        epsilon_decay_steps=total // 2,
        eval_frequency=16_384,
        eval_episodes=128,
    )


def run_peer(venv: Path, setup: str, runner: str, args: list[str]) -> dict:
    """benchmarks/peers/`runner` in its own venv: the JSON object it prints last."""
    if not venv.exists():
        raise SystemExit(f"{venv} is missing: run benchmarks/{setup} first")
    command = [str(venv), str(HERE / "peers" / runner), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def rejax_peer(seeds: int) -> dict:
    args = ["--alg", "pqn", "--seeds", str(seeds)]
    r = run_peer(REJAX_VENV, "setup_rejax_venv.sh", "rejax_runner.py", args)
    return {**r, "final_greedy": r["final_returns"]}


def peer(seeds: int, overrides: list[str]) -> dict:
    args = ["--seeds", str(seeds)] + [a for item in overrides for a in ("--set", item)]
    return run_peer(VENV, "setup_purejaxql_venv.sh", "purejaxql_runner.py", args)


def ours(config: purejaxdqn.DQNConfig, seeds: int) -> dict:
    train = purejaxdqn.make_train(config)
    keys = jax.random.split(jax.random.key(0), seeds)
    start = time.perf_counter()  # no persistent cache is on in this process: a cold compile
    compiled = jax.jit(jax.vmap(train)).lower(keys).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    result = jax.block_until_ready(compiled(keys))
    run_s = time.perf_counter() - start
    final = np.asarray(result.final_eval_returns).mean(-1)
    return {
        "tool": "purejaxdqn",
        "seeds": seeds,
        "compile_s": compile_s,
        "run_s": run_s,
        "env_steps": int(np.asarray(result.metrics.env_step)[:, -1].sum()),
        "final_greedy": final.tolist(),
    }


def command(seeds: int) -> dict:
    """`purejaxdqn train --preset pqn` in a fresh process (cold cache): its summary."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        env = {**os.environ, "XDG_CACHE_HOME": tmp, "JAX_PLATFORMS": "cpu"}  # a cold cache
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "purejaxdqn", "train", "--preset", "pqn", "--seeds", str(seeds),
             "--out", str(out), "--no-progress", "--no-plot"],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        wall = time.perf_counter() - start
        summary = json.loads((out / "summary.json").read_text())
    return {
        "tool": "purejaxdqn train --preset pqn",
        "seeds": seeds,
        "compile_s": summary["compile_time_s"],
        "run_s": summary["wall_time_s"],
        "process_s": wall,
        "env_steps": sum(summary["env_steps"]),
        "final_greedy": summary["final_eval_return"],
    }


def row(name: str, r: dict) -> str:
    solved = sum(f >= 475 for f in r["final_greedy"])
    rate = r["env_steps"] / r["run_s"]
    return (
        f"| {name} | {r['seeds']} | {r['compile_s']:.1f} | {r['run_s']:.1f} | "
        f"{r['compile_s'] + r['run_s']:.1f} | {rate:,.0f} | {solved}/{r['seeds']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="equal-tested,equal-untested,solve")
    parser.add_argument("--seeds", default="1,8", help="seed counts of the equal-work parts")
    parser.add_argument("--json", type=Path, default=RESULTS / "pqn_peers.json", help="output")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    data: dict = {"machine": machine(), "command": " ".join(sys.argv), "parts": {}}
    header = "| tool | seeds | compile s | run s | total s | env steps/s | solved |"
    for part in args.parts.split(","):
        rows = []
        if part in ("equal-tested", "equal-untested"):
            tested = part == "equal-tested"
            overrides = [f"TOTAL_TIMESTEPS={UPDATES * 2048}"]
            if not tested:
                overrides.append("TEST_DURING_TRAINING=false")
            for n in seeds:
                theirs, mine = peer(n, overrides), ours(equal_config(tested), n)
                rows += [theirs, mine]
                print(f"{part} {n}: {theirs['run_s']:.1f} s against {mine['run_s']:.1f} s run",
                      file=sys.stderr)  # fmt: skip
        elif part == "solve":
            rows = [peer(8, []), command(8)]
        elif part == "rejax-equal":
            for n in seeds:
                theirs, mine = rejax_peer(n), ours(rejax_config(), n)
                rows += [theirs, mine]
                print(f"{part} {n}: {theirs['run_s']:.1f} s against {mine['run_s']:.1f} s run",
                      file=sys.stderr)  # fmt: skip
        elif part == "rejax-solve":
            rows = [rejax_peer(8), command(8)]
        else:
            raise SystemExit(f"--parts: unknown part {part!r}")
        data["parts"][part] = rows
        print(f"\n### {part}\n\n{header}\n|---|---|---|---|---|---|---|")
        for r in rows:
            print(row(r["tool"], r))
    args.json.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
