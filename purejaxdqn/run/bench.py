"""Throughput on this machine (`purejaxdqn bench`): for each seed count, the compile time,
env steps per second with learning, the env stepping alone at the same width in the same
process (the ceiling), their ratio, and the planned memory per seed.

The learning figure is a config at fixed work: `total_timesteps` per seed, no freezing,
the whole run one compiled call (`ChunkedRun(chunks=1)`) with the replay buffers left on
the devices; the median over `repeats` calls. The env-only figure steps the same env
with uniform random actions, `seeds * num_envs` envs in parallel in one jitted scan.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from purejaxdqn.config import DQNConfig


def machine() -> dict[str, Any]:
    """The device, host and versions a figure was measured on."""
    from purejaxdqn.run.run_dir import versions

    devices = jax.devices()
    found = versions()
    return {
        "device": devices[0].device_kind,
        "devices": len(devices),
        "platform": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "jax": found["jax"],
        "purejaxdqn": found["purejaxdqn"],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "versions": found,
    }


def fixed_work(config: DQNConfig, steps: int) -> DQNConfig:
    """`config` at `steps` env steps per seed, every seed to the end (no freezing)."""
    return config.replace(freeze_when_solved=False, total_timesteps=steps)


def learning_row(config: DQNConfig, num_seeds: int, repeats: int = 3) -> dict[str, Any]:
    """Compile time and the median env steps/s with learning of `num_seeds` seeds."""
    from purejaxdqn.run import memory
    from purejaxdqn.run.runner import ChunkedRun

    runner = ChunkedRun(config, num_seeds, seed=0, chunks=1)
    compile_s = runner.compile()
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        # The replay buffers stay on the devices: results and small fields come back.
        result = runner.finish(runner.run(runner.init()), keep_state=False)
        times.append(time.perf_counter() - start)
    assert result is not None
    run_s = statistics.median(times)
    steps = int(np.sum(result.state.progress.env_step))
    plan = memory.plan(runner.template, config.buffer_size, runner.num_runs, num_seeds)
    final = np.asarray(result.final_eval_returns).mean(-1)
    threshold = config.resolved_solve_threshold
    return {
        "seeds": num_seeds,
        "compile_s": round(compile_s, 2),
        "run_s": round(run_s, 3),
        "env_steps": steps,
        "env_steps_per_s": round(steps / run_s),
        "bytes_per_seed": int(plan["bytes_per_run"]),
        "bytes_per_transition": None
        if plan["bytes_per_transition"] is None
        else round(plan["bytes_per_transition"], 1),
        "state_bytes": plan["state_bytes"],
        "solved": None if threshold is None else int((final >= threshold).sum()),
    }


def env_only_steps_per_s(env_id: str, num_envs: int, steps: int, repeats: int = 3) -> float:
    """`env_id` stepping alone: uniform random actions, `num_envs` in parallel, `steps`
    steps each in one jitted scan (auto-reset included); the median of `repeats` calls."""
    from purejaxdqn.core import envs

    env, env_params = envs.make_env(env_id)
    num_actions = envs.num_discrete_actions(env, env_params)

    def run(key):
        obs, state = envs.vmapped_reset(env, env_params, jax.random.split(key, num_envs))

        def step(carry, key):
            state, total = carry
            k_act, k_step = jax.random.split(key)
            action = jax.random.randint(k_act, (num_envs,), 0, num_actions)
            keys = jax.random.split(k_step, num_envs)
            _, state, reward, *_ = envs.vmapped_step(env, env_params, keys, state, action)
            return (state, total + reward.sum()), None

        (state, total), _ = jax.lax.scan(step, (state, 0.0), jax.random.split(key, steps))
        return total

    compiled = jax.jit(run).lower(jax.random.key(0)).compile()
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(jax.random.key(i)))
        times.append(time.perf_counter() - start)
    return num_envs * steps / statistics.median(times)


def bench(
    config: DQNConfig, seed_counts: list[int], steps: int, repeats: int = 3, report: Any = None
) -> dict[str, Any]:
    """Every seed count's row (`report(row)` as each comes), the machine and the config."""
    config = fixed_work(config, steps)
    data: dict[str, Any] = {"machine": machine(), "config": config.to_dict(), "rows": []}
    for n in seed_counts:
        row = learning_row(config, n, repeats)
        width = n * config.num_envs
        ceiling = env_only_steps_per_s(config.env_id, width, max(1, steps // config.num_envs))
        row["env_only_steps_per_s"] = round(ceiling)
        row["fraction_of_env_only"] = round(row["env_steps_per_s"] / ceiling, 3)
        data["rows"].append(row)
        if report is not None:
            report(row)
    return data


def format_table(data: dict[str, Any]) -> str:
    from purejaxdqn.run.memory import format_bytes

    m, c = data["machine"], data["config"]
    v = m["versions"]
    lines = [
        f"{c['env_id']}, {c['algorithm']}, {c['total_timesteps']:,} env steps per seed, "
        f"{c['num_envs']} envs per seed, no freezing",
        f"device: {m['devices']} x {m['device']} ({m['platform']}), {m['cpu_count']} CPUs; "
        f"purejaxdqn {v['purejaxdqn']}, jax {v['jax']}, gymnax {v['gymnax']}",
        f"{'seeds':>6} {'compile s':>10} {'steps/s learning':>17} {'steps/s env only':>17} "
        f"{'ratio':>6} {'memory/seed':>12}",
    ]
    for r in data["rows"]:
        lines.append(
            f"{r['seeds']:>6} {r['compile_s']:>10.2f} {r['env_steps_per_s']:>17,} "
            f"{r['env_only_steps_per_s']:>17,} {r['fraction_of_env_only']:>6.3f} "
            f"{format_bytes(r['bytes_per_seed']):>12}"
        )
    return "\n".join(lines)


def plot(data: dict[str, Any], path: Path) -> None:
    """Env steps/s against seeds, with learning and env-only, on log-log axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = data["rows"]
    seeds = [r["seeds"] for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(seeds, [r["env_steps_per_s"] for r in rows], "o-", label="with learning")
    ax.plot(seeds, [r["env_only_steps_per_s"] for r in rows], "s--", label="env only")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("seeds")
    ax.set_ylabel("env steps / s")
    m = data["machine"]
    ax.set_title(f"{data['config']['env_id']} on {m['devices']} x {m['device']}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
